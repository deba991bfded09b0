# SPDX-License-Identifier: GPL-2.0-or-later
#
# Top-level Makefile of the virtio-msg fork of QEMU.
#
#   make              install what is missing, fetch upstream QEMU 10.0.x,
#                     assemble, configure and build qemu-system-aarch64
#                     (and qemu-system-x86_64 if configured with
#                     --target-list=aarch64-softmmu,x86_64-softmmu)
#   make check        build and run every test suite of the project
#   make check-unit   unit tests (codec, SPSC queue)
#   make check-qtest  qtests of the virtio-msg devices
#   make check-e2e    two QEMUs, a stock Linux guest across them
#   make check-guest  a bare-metal virtio-msg driver (tests/guest) on
#                     virtio-msg-amp-pci, virtio-blk-pci and the relay
#   make check-slow   the long fault tests (flood for FLOOD_SECONDS=180)
#   make check-sanitizers  unit tests, qtests and e2e under ASan and UBSan
#   make fuzz         libFuzzer targets (FUZZ_SECONDS= per target)
#   make bench        performance table (BENCH_RUNS= runs per figure, default 5)
#   make demo         run the two-QEMU system, guest console on the terminal
#   make demo-amp     a guest's own virtio-msg driver, devices in another QEMU
#   make docs         the HTML manual in build/docs (Sphinx, warnings are errors)
#   make patches      the fork as a patch series for upstream in build/patches
#   make check-patches  git am the series on pristine upstream, build, test
#   make refresh-patches  refresh patches/ from edits of upstream files in
#                     build/src
#
# Everything happens under $(BUILD); re-running is incremental.

BUILD ?= build
SRC := $(BUILD)/src
OBJ := $(BUILD)/obj
QEMU := $(OBJ)/qemu-system-aarch64
NINJA := flock $(BUILD)/.ninja.lock ninja --quiet -C $(OBJ)

UNIT_TESTS := \
	tests/unit/test-virtio-msg-proto \
	tests/unit/test-virtio-msg-spsc \
	tests/unit/test-virtio-msg-backlog

QTESTS := \
	tests/qtest/qos-test \
	tests/qtest/virtio-msg-amp-pci-test \
	tests/qtest/virtio-msg-peer-test \
	tests/qtest/virtio-msg-loopback-test \
	tests/qtest/virtio-msg-faults-test \
	tests/qtest/virtio-msg-relay-test \
	tests/qtest/virtio-msg-rng-peer-test \
	tests/qtest/virtio-msg-vhost-test

# With x86_64-softmmu in the target list, these also run on
# qemu-system-x86_64 (-M q35; tests/qtest/meson.build: qtests_x86_64),
# and qos-test there runs its paths over virtio-msg
QTESTS_X86_64 := \
	tests/qtest/virtio-msg-amp-pci-test \
	tests/qtest/virtio-msg-faults-test

# The configured targets (expanded when used, i.e. after configure)
X86_64 = $(filter x86_64-softmmu,$(shell sed -n 's/^TARGET_DIRS=//p' \
	$(OBJ)/config-host.mak 2>/dev/null))

# The stand-alone device side of the linux-user link (contrib/)
PEER := contrib/virtio-msg-peer/virtio-msg-rng-peer

# Environment of qtest programs, but for QTEST_QEMU_BINARY (per target)
QTEST_ENV := \
	QTEST_QEMU_IMG=$(CURDIR)/$(OBJ)/qemu-img \
	QTEST_QEMU_STORAGE_DAEMON_BINARY=$(CURDIR)/$(OBJ)/storage-daemon/qemu-storage-daemon \
	G_TEST_SRCDIR=$(CURDIR)/$(SRC)/tests/qtest \
	G_TEST_BUILDDIR=$(CURDIR)/$(OBJ)/tests/qtest

.PHONY: all deps configured build check check-unit check-qtest check-e2e \
	check-slow check-guest guest-deps demo-amp docs docs-deps bench \
	check-sanitizers fuzz \
	e2e-deps demo patches check-patches refresh-patches \
	clean distclean help

all: build

help:
	@sed -n '3,28s/^# \{0,1\}//p' Makefile

deps:
	@sh scripts/fork/install-deps.sh $(BUILD)

# Configure once; afterwards only re-assemble (cheap when nothing changed:
# new files and changed patches are picked up) and let ninja re-run meson.
configured: deps
	@if [ -f $(OBJ)/build.ninja ] && [ -f $(BUILD)/config.sh ]; then \
		. $(abspath $(BUILD))/config.sh && \
		sh scripts/fork/assemble.sh . "$$upstream" $(SRC); \
	else \
		./configure --build-dir=$(BUILD); \
	fi

build: configured
	@$(NINJA) qemu-system-aarch64 qemu-img \
		storage-daemon/qemu-storage-daemon $(PEER) $(UNIT_TESTS) \
		$(QTESTS) $(if $(X86_64),qemu-system-x86_64)
	@ln -sfn obj/qemu-system-aarch64 $(BUILD)/qemu-system-aarch64
	@$(if $(X86_64),ln -sfn obj/qemu-system-x86_64 $(BUILD)/qemu-system-x86_64)
	@# x86_64's firmware (Debian's seabios)
	@$(if $(X86_64),sh scripts/fork/install-deps.sh $(BUILD) seabios)
	@# option ROMs of virtio-pci devices (Debian's ipxe-qemu), SeaBIOS
	@d=$$(find $(OBJ)/qemu-bundle -path '*/share/qemu' -type d | head -n1); \
	for rom in /usr/lib/ipxe/qemu/*.rom \
		$(if $(X86_64),/usr/share/seabios/*.bin); do \
		[ -e "$$d/$${rom##*/}" ] || ln -s "$$rom" "$$d/"; \
	done

check: check-unit check-qtest check-guest check-e2e

check-unit: build
	@sh scripts/fork/run-tests.sh unit $(addprefix $(OBJ)/,$(UNIT_TESTS))

check-qtest: build
	@env $(QTEST_ENV) QTEST_QEMU_BINARY=$(CURDIR)/$(QEMU) \
		sh scripts/fork/run-tests.sh qtest \
		$(CURDIR)/$(OBJ)/tests/qtest/qos-test \
		$(addprefix $(CURDIR)/$(OBJ)/,$(filter-out %/qos-test,$(QTESTS)))
	@if [ -n "$(X86_64)" ]; then \
		export $(QTEST_ENV) \
		QTEST_QEMU_BINARY=$(CURDIR)/$(OBJ)/qemu-system-x86_64; \
		qos=$(CURDIR)/$(OBJ)/tests/qtest/qos-test; \
		paths=$$($$qos -l | grep '^/.*vmsg' | sed 's/^/-p /' | \
			tr '\n' ' '); \
		if [ -z "$$paths" ]; then \
			echo "qos-test lists no virtio-msg path on x86_64" >&2; \
			exit 1; \
		fi; \
		sh scripts/fork/run-tests.sh qtest-x86_64 "$$qos $$paths" \
			$(addprefix $(CURDIR)/$(OBJ)/,$(QTESTS_X86_64)); \
	fi

# A guest floods the FIFOs for minutes (make check floods for 3 s)
FLOOD_SECONDS ?= 180
check-slow: build
	@env $(QTEST_ENV) QTEST_QEMU_BINARY=$(CURDIR)/$(QEMU) \
		VMSG_FLOOD_SECONDS=$(FLOOD_SECONDS) \
		sh scripts/fork/run-tests.sh slow \
		"$(CURDIR)/$(OBJ)/tests/qtest/virtio-msg-faults-test -p /aarch64/virtio-msg-faults/flood"

# The bare-metal guest driver needs the aarch64 cross compiler
guest-deps:
	@sh scripts/fork/install-deps.sh $(BUILD) gcc-aarch64-linux-gnu

check-guest: build guest-deps
	@sh scripts/fork/guest-test.sh $(BUILD) check

demo-amp: build guest-deps
	@sh scripts/fork/guest-test.sh $(BUILD) demo

# The end-to-end test and the demo also need cpio for the guest initramfs
e2e-deps:
	@sh scripts/fork/install-deps.sh $(BUILD) cpio

E2E := bash tests/e2e/virtio-msg-e2e.sh $(BUILD)

check-e2e: build e2e-deps
	@$(E2E) test pci mmio vhost

# Their own build directories and scripts (scripts/fork/)
check-sanitizers: deps
	@sh scripts/fork/check-sanitizers.sh $(BUILD)

FUZZ_SECONDS ?= 180
fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh scripts/fork/fuzz.sh $(BUILD)

demo: build e2e-deps
	@$(E2E) demo pci

# The HTML manual in $(BUILD)/docs, with QEMU's own Sphinx setup
# (warnings are errors); built in $(BUILD)/docs-obj
docs-deps:
	@sh scripts/fork/install-deps.sh $(BUILD) python3-sphinx \
		python3-sphinx-rtd-theme

docs: deps docs-deps
	@sh scripts/fork/docs.sh $(BUILD)

# Figures, never a verdict: medians of BENCH_RUNS runs (build/bench/)
bench: build guest-deps e2e-deps
	@BENCH_RUNS=$(BENCH_RUNS) sh scripts/fork/bench.sh $(BUILD)

# The series for qemu-devel (scripts/fork/series.txt), and its check
patches: configured
	@sh scripts/fork/export-series.sh $(BUILD)

check-patches: configured
	@sh scripts/fork/check-patches.sh $(BUILD)

refresh-patches: configured
	@sh scripts/fork/refresh-patches.sh $(BUILD)

clean:
	@if [ -f $(OBJ)/build.ninja ]; then $(NINJA) clean; fi

# Removes the build tree, but keeps the downloads cache.
distclean:
	rm -rf $(SRC) $(OBJ) $(BUILD)/test-logs $(BUILD)/qemu-system-aarch64 \
		$(BUILD)/qemu-system-x86_64 $(BUILD)/docs-obj $(BUILD)/docs
