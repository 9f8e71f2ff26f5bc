SUMMARY = "Fast, correct Python JSON library"
DESCRIPTION = "orjson is a JSON library written in Rust that serializes \
               dataclasses, datetimes and numpy arrays natively; mlinfer uses \
               it for JSON request and response bodies."
HOMEPAGE = "https://github.com/ijl/orjson"
BUGTRACKER = "https://github.com/ijl/orjson/issues"
SECTION = "devel/python"
# orjson itself is Apache-2.0 OR MIT. Statically linked into the extension:
# yyjson (MIT, include/yyjson) and the vendored crates, all Apache-2.0 OR MIT
# except encoding_rs, whose generated WHATWG index data adds BSD-3-Clause.
LICENSE = "(Apache-2.0 | MIT) & MIT & BSD-3-Clause"
LIC_FILES_CHKSUM = "\
    file://LICENSE-APACHE;md5=1836efb2eb779966696f473ee8540542 \
    file://LICENSE-MIT;md5=b377b220f43d747efdec40d69fcaa69d \
    file://include/yyjson/yyjson.h;beginline=2;endline=21;md5=7e34d4ad244539458ac4f05b7e86e930 \
    file://include/cargo/encoding_rs-0.8.35/LICENSE-WHATWG;md5=8c215f34bc9ae1523436974e8db187a4 \
"

SRC_URI[sha256sum] = "0a78bbda3aea0f9f079057ee1ee8a1ecf790d4f1af88dd67493c6b8ee52506ff"

# The sdist vendors every crate it needs (include/cargo, with .cargo-checksum
# files) and its .cargo/config.toml points crates.io there, so cargo builds
# offline without a ${BPN}-crates.inc: cargo reads that project-level config in
# preference to the CARGO_HOME config that cargo_common writes. Minimum Rust
# 1.72 (Cargo.toml rust-version; the newest vendored crate needs 1.70), and
# scarthgap ships Rust 1.75. Pick a newer orjson only after checking both
# again: orjson releases raise rust-version often.
inherit pypi python_maturin

CVE_PRODUCT = "ijl:orjson"

RDEPENDS:${PN} = "\
    python3-datetime \
    python3-json \
"

# Target only: nothing here needs orjson at build time.
BBCLASSEXTEND = ""
