# AVTech entry points. Every target brings what it needs itself (scripts/setup.sh): Node 24
# into .toolchain/ when the system Node is older, Debian packages through apt-get, the locked npm dependencies.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# /usr/sbin and /sbin last: the image recipe and its tests use mkfs.*, e2fsck, debugfs and sfdisk, which Debian
# keeps there, outside an ordinary user's PATH.
export PATH := $(CURDIR)/.toolchain/node/bin:$(CURDIR)/node_modules/.bin:$(PATH):/usr/sbin:/sbin
# npm's user config on some machines carries an unknown key that makes every npm call warn.
export npm_config_loglevel := error

# Debian packages the image build (and its boot test) need beyond `setup`'s (which has u-boot-tools, rauc,
# squashfs-tools and libubootenv-tool for the fast A/B checks and `make update-bundle`).
IMAGE_APT := mmdebstrap qemu-user-static binfmt-support arch-test binutils-aarch64-linux-gnu bmap-tools cloud-guest-utils
# arm64 binaries run under qemu-user during the build: make sure binfmt_misc knows them.
ENABLE_ARM64_BINFMT := arch-test arm64 >/dev/null 2>&1 || { mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; update-binfmts --enable qemu-aarch64; }

.PHONY: setup demo cluster test audit test-full test-fresh bench proto proto-check lint typecheck build image update-bundle clean distclean

## setup: install Node 24, Debian packages and npm dependencies when missing (idempotent)
setup:
	@scripts/setup.sh

## demo: control plane on embedded PostgreSQL, console, demo content and a real player with mpv
demo: setup build
	@scripts/demo.sh

## cluster: control-plane replicas (REPLICAS, default 3) on one PostgreSQL (DATABASE_URL, or the embedded one in
## .data/postgres as `make demo` starts it) behind HAProxy on :8090 (PORT; BALANCERS HAProxy processes sharing it,
## default 1); Ctrl-C stops everything
cluster: setup
	@scripts/setup.sh haproxy
	node control-plane/src/cluster/main.ts --replicas $${REPLICAS:-3} --balancers $${BALANCERS:-1} --port $${PORT:-8090}

## test: the fast test suite (contracts fresh, lint, types, unit + integration tests, security gates)
test: setup proto-check lint typecheck
	vitest run
	@$(MAKE) --no-print-directory audit

## audit: npm audit of production dependencies; fails on high/critical, says NOT RUN when the endpoint gives no report
# scripts/audit.ts exits 3 when the audit could not run: reported as NOT RUN, never as passed.
audit:
	@status=0; node scripts/audit.ts || status=$$?; \
	if [ "$$status" -eq 3 ]; then echo "security gates: dependency audit NOT RUN (no audit report from the registry); not counted as passed"; \
	elif [ "$$status" -ne 0 ]; then exit "$$status"; fi

## test-full: everything in `test` plus the heavy suites (*.full.test.ts: image boot, long fault runs, the backup drill
## on Debian's PostgreSQL with rsync, as the control_plane role runs them) and test-fresh
test-full: setup proto-check lint typecheck
	@scripts/setup.sh $(IMAGE_APT) qemu-system-arm ipxe-qemu u-boot-qemu systemd-container curl iproute2 postgresql rsync haproxy
	@$(ENABLE_ARM64_BINFMT)
	AVTECH_TEST_FULL=1 vitest run
	@$(MAKE) --no-print-directory audit
	@$(MAKE) --no-print-directory test-fresh

## test-fresh: the README's two commands on a clean Debian 12 container (clone in /root/avtech), timed
test-fresh:
	@scripts/setup.sh mmdebstrap systemd-container git
	scripts/test-fresh.sh

## bench: performance benchmarks, printed as a table and written to bench/results.json; BENCH=cluster (any part of
## a script's path) runs only the matching ones
bench: setup build
	@scripts/setup.sh haproxy
	node bench/run.ts $(BENCH)

## proto: regenerate TypeScript from the .proto files
proto: setup
	cd proto && buf lint && buf generate

## proto-check: buf lint, and fail when the committed generated code is stale
proto-check:
	@scripts/proto-check.sh

## lint: Biome lint + format check
lint:
	biome check --error-on-warnings .

## typecheck: tsc --noEmit over every workspace
typecheck:
	tsc -p tsconfig.json
	@if [ -f control-plane/console/tsconfig.json ]; then tsc -p control-plane/console/tsconfig.json; fi

## build: build the console (served by the control plane) and the player's device bundle, check types, write SBOMs (dist/sbom)
build: setup typecheck
	npm run --silent -w @avtech/control-plane build:console
	npm run --silent -w @avtech/player bundle
	node scripts/sbom.ts

## image: build the flashable Raspberry Pi image (see image/README.md)
image:
	@scripts/setup.sh $(IMAGE_APT)
	@$(ENABLE_ARM64_BINFMT)
	image/build.sh

## update-bundle: a signed RAUC update bundle (image/out/*.raucb) of the root file system `make image` assembled
update-bundle:
	@scripts/setup.sh
	image/build.sh bundle

## clean: remove build outputs, test artifacts and demo data
clean:
	rm -rf .data test-artifacts bench/results.json image/out image/work control-plane/console/dist dist player/dist

## distclean: also remove node_modules and the local toolchain
distclean: clean
	rm -rf node_modules */node_modules .toolchain
