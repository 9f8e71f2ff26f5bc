SUMMARY = "mlinfer inference appliance image for NVIDIA Jetson Orin"
DESCRIPTION = "A systemd image that runs the mlinfer REST and gRPC services \
               in front of NVIDIA Triton (TensorRT backend) on a Jetson Orin, \
               with the model repository on its own data partition. Flash \
               the tegraflash package it produces (docs/DEPLOY.md)."
HOMEPAGE = "https://mlinfer.invalid/"
BUGTRACKER = "https://mlinfer.invalid/issues"
SECTION = "images"
LICENSE = "MIT"

inherit core-image features_check

REQUIRED_DISTRO_FEATURES = "systemd"

IMAGE_FEATURES += "ssh-server-openssh"

IMAGE_INSTALL = "\
    packagegroup-core-boot \
    packagegroup-mlinfer \
    ${CORE_IMAGE_EXTRA_INSTALL} \
"

# Jetson only (Triton, TensorRT and CUDA come from meta-tegra). The output is
# meta-tegra's tegraflash image type: a tarball with the boot firmware, the
# partition layout, the root file system and doflash.sh / initrd-flash, for
# MACHINE = "jetson-agx-orin-devkit" or "p3768-0000-p3767-0000" (kas/).
COMPATIBLE_MACHINE = "(tegra)"
IMAGE_FSTYPES = "tegraflash"

# Room for logs and packages; the model repository lives on the data partition.
IMAGE_ROOTFS_EXTRA_SPACE = "1048576"

CVE_PRODUCT = ""
