# The same file system table as the Debian image: read-only root, data partition by label grown on first boot,
# RAM for what changes. files/fstab is the ansible template (ansible/roles/player/templates/fstab.j2) rendered
# with its defaults; image/test/yocto.test.ts fails when the two drift apart.
FILESEXTRAPATHS:prepend := "${THISDIR}/files:"
