SUMMARY = "AVTech digital-signage player (Node.js + mpv on DRM/KMS)"
DESCRIPTION = "The AVTech player daemon with its npm dependencies, its systemd units (the same files as the \
Debian image and the ansible player role) and the boot-time site settings applier."
HOMEPAGE = "https://github.com/avtech/avtech"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

# The player ships as its device bundle (one esbuild file, player/build/bundle.ts), run with `node --lite-mode`
# from /opt/avtech/player, exactly as in the Debian image. The boot-time site-settings tool (provisioning) runs as
# TypeScript (Node type stripping). npm dependencies come from the committed shrinkwrap through oe-core's npmsw
# fetcher; the target's are pure JavaScript (no native addons), so one fetch serves every machine. esbuild runs on
# the build host only (nodejs-native).
SRC_URI = "git://github.com/avtech/avtech.git;protocol=https;branch=main \
           npmsw://${THISDIR}/files/npm-shrinkwrap.json;destsuffix=git/deps \
"
SRCREV = "${AUTOREV}"
S = "${WORKDIR}/git"

# Units, scripts and config drop-ins: referenced from the ansible role in this repository, not copied.
FILESEXTRAPATHS:prepend := "${AVTECH_ROLE_FILES}:"
SRC_URI += "file://systemd/avtech-player.service \
            file://bin/avtech-player \
            file://systemd/avtech-boot-config.service \
            file://systemd/avtech-grow-data.service \
            file://sbin/avtech-grow-data \
            file://conf/journald-avtech.conf \
            file://conf/system-watchdog.conf \
            file://conf/sshd-avtech.conf \
            file://conf/10-avtech-wired.network \
            file://conf/20-avtech-wireless.network \
"

inherit systemd useradd

USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system avtech"
USERADD_PARAM:${PN} = "--system --gid avtech --groups video,render,audio,input --home-dir /var/lib/avtech \
                       --no-create-home --shell /sbin/nologin avtech"

SYSTEMD_SERVICE:${PN} = "avtech-player.service avtech-boot-config.service avtech-grow-data.service"
SYSTEMD_AUTO_ENABLE = "enable"

# The units start /opt/avtech/node/bin/node: point it at the distribution's Node (meta-oe `nodejs`, which must
# be 22.6 or newer for type stripping; 24 is what the Debian image ships). The bundle is built by the host's Node.
DEPENDS = "nodejs-native"
RDEPENDS:${PN} = "nodejs mpv ffmpeg cloud-utils-growpart e2fsprogs-resize2fs wpa-supplicant openssh-sshd \
                  openssh-keygen systemd-extra-utils"

do_compile() {
    ln -sfn ${S}/deps/node_modules ${S}/node_modules
    cd ${S} && ${STAGING_BINDIR_NATIVE}/node player/build/bundle.ts
}

do_install() {
    install -d ${D}/opt/avtech/player ${D}/opt/avtech/releases/${PV} ${D}/opt/avtech/node/bin
    install -m 0644 ${S}/player/dist/avtech-player.mjs ${S}/player/dist/avtech-player.licenses.txt ${D}/opt/avtech/player/
    install -D -m 0755 ${WORKDIR}/bin/avtech-player ${D}/usr/local/bin/avtech-player
    for ws in proto provisioning; do
        install -d ${D}/opt/avtech/releases/${PV}/$ws
        cp -R --no-preserve=ownership ${S}/$ws/package.json ${S}/$ws/src ${D}/opt/avtech/releases/${PV}/$ws/
        find ${D}/opt/avtech/releases/${PV}/$ws -name '*.test.ts' -delete
    done
    cp -R --no-preserve=ownership ${S}/deps/node_modules ${D}/opt/avtech/releases/${PV}/
    install -d ${D}/opt/avtech/releases/${PV}/node_modules/@avtech
    for ws in proto provisioning; do
        ln -sf ../../$ws ${D}/opt/avtech/releases/${PV}/node_modules/@avtech/$ws
    done
    ln -sf releases/${PV} ${D}/opt/avtech/current
    ln -sf ${bindir}/node ${D}/opt/avtech/node/bin/node

    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${WORKDIR}/systemd/avtech-*.service ${D}${systemd_system_unitdir}/
    install -D -m 0755 ${WORKDIR}/sbin/avtech-grow-data ${D}/usr/local/sbin/avtech-grow-data
    install -D -m 0644 ${WORKDIR}/conf/journald-avtech.conf ${D}${sysconfdir}/systemd/journald.conf.d/avtech.conf
    install -D -m 0644 ${WORKDIR}/conf/system-watchdog.conf ${D}${sysconfdir}/systemd/system.conf.d/avtech-watchdog.conf
    install -D -m 0644 ${WORKDIR}/conf/sshd-avtech.conf ${D}${sysconfdir}/ssh/sshd_config.d/avtech.conf
    install -d ${D}${sysconfdir}/systemd/network
    install -m 0644 ${WORKDIR}/conf/*.network ${D}${sysconfdir}/systemd/network/
    install -d -m 0750 ${D}/var/lib/avtech
    chown avtech:avtech ${D}/var/lib/avtech
}

FILES:${PN} = "/opt/avtech /usr/local/bin /usr/local/sbin ${systemd_system_unitdir} ${sysconfdir} /var/lib/avtech"
INSANE_SKIP:${PN} = "file-rdeps"
