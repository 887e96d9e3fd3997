SUMMARY = "AVTech default site files for the boot partition (avtech.toml, avtech-system.toml)"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

# Rendered from the ansible role's templates with their defaults (pairing mode, placeholder URL);
# image/test/yocto.test.ts fails when they drift apart. Sites fill them in with the provisioning CLI.
SRC_URI = "file://avtech.toml file://avtech-system.toml"
S = "${WORKDIR}"

inherit deploy nopackages

do_deploy() {
    install -m 0644 ${WORKDIR}/avtech.toml ${WORKDIR}/avtech-system.toml ${DEPLOYDIR}/
}
addtask deploy after do_compile
