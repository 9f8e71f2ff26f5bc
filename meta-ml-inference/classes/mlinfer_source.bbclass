# Build a recipe from the mlinfer repository checkout that contains this layer
# (meta-ml-inference/ sits at the root of the mlinfer repository).
#
# externalsrc builds straight from the checkout: no fetch and no SRCREV to
# bump (kas pins the whole tree by the commit of this repository), and it
# hashes the working tree, so any edit, committed or not, rebuilds the
# recipe. The recipe's local file:// entries are still unpacked into
# ${WORKDIR} as usual. Python builds write only git-ignored paths into the
# checkout (build/, *.egg-info); the build directory is in ${WORKDIR}.
#
# To build a published release instead, drop this class from the recipe and
# give it git://<url>;protocol=https;branch=<branch> plus a SRCREV.

def mlinfer_source_root(d):
    """The directory above the layer (the one holding conf/layer.conf) that contains the recipe."""
    import os
    path = d.getVar('FILE_DIRNAME')
    while path != os.path.dirname(path):
        if os.path.exists(os.path.join(path, 'conf', 'layer.conf')):
            return os.path.dirname(path)
        path = os.path.dirname(path)
    bb.fatal("mlinfer_source: %s is not inside a layer" % d.getVar('FILE'))

inherit externalsrc

EXTERNALSRC = "${@mlinfer_source_root(d)}"
EXTERNALSRC_BUILD = "${WORKDIR}/build"
# No oe-workdir/oe-logs convenience symlinks in the developer's checkout.
EXTERNALSRC_SYMLINKS = ""
