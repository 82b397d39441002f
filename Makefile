# Tandem: Pacemaker/OCF resource agents in Swift.
#
#   make demo      install what is needed, build, and run the 3-node demo cluster
#   make test      install what is needed, build, and run every test (as root)
#   make bench     the benchmarks, side by side with what the agents replace
#   make install   agents into $(DESTDIR)$(OCF_ROOT)/resource.d/tandem, the health checker's
#                  daemon into $(DESTDIR)$(LIBEXEC_DIR), fence agents and tandem into $(DESTDIR)$(SBIN_DIR),
#                  man pages, crmsh wizards
#   make deb       the Debian package, .build/deb/tandem_<version>_<arch>.deb

SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

SWIFT ?= swift
PREFIX ?= /usr
DESTDIR ?=
OCF_ROOT ?= $(PREFIX)/lib/ocf
PROVIDER := tandem
AGENTS := vip ipvs ipvs-sync healthcheck mysql-mm
# Helpers agents start, outside the provider directory (they are not agents). The healthcheck
# agent looks for its daemon here unless TANDEM_LIBEXEC_DIR says otherwise.
LIBEXEC_DIR := $(PREFIX)/libexec/tandem
DAEMONS := healthcheckd
# Fence agents, where pacemaker-fenced looks for them (and nowhere else).
FENCE_AGENTS := fence_libvirt
SBIN_DIR := $(PREFIX)/sbin
# The administrator's command (tandem status), beside the fence agents.
TOOLS := tandem

# Agents link statically (Package.swift says how).
# Prespecialized generic metadata (the default on Apple platforms) spares every run the
# runtime's demangling of generic types: half of a monitor's instructions.
RELEASE_FLAGS := -c release \
	-Xswiftc -Xfrontend -Xswiftc -prespecialize-generic-metadata
RELEASE_BIN := $(CURDIR)/.build/release
# The agents alone, as the provider directory a lab node mounts.
PROVIDER_DIR := $(CURDIR)/.build/provider
# The daemons as the cluster lab's nodes see them at $(LIBEXEC_DIR) (lab up --libexec).
LAB_LIBEXEC_DIR := $(CURDIR)/.build/libexec
# The fence agents as the lab's nodes see them in /usr/sbin (lab up --sbin).
LAB_SBIN_DIR := $(CURDIR)/.build/sbin
# Man pages, written by the executables from their parameter declarations: ocf_tandem_<agent>(7),
# <fence agent>(8), tandem(8).
MAN_BUILD_DIR := $(CURDIR)/.build/man

# Every Debian package a build, test, benchmark or demo needs.
BUILD_PACKAGES := pkg-config libnl-3-dev libnl-route-3-dev libnl-genl-3-dev libmariadb-dev libssl-dev zlib1g-dev libc-ares-dev \
	libvirt-dev
TEST_PACKAGES := libxml2-utils resource-agents pacemaker pacemaker-cli-utils corosync crmsh \
	python3-lxml iproute2 iputils-ping socat procps util-linux psmisc strace nginx-light openssl \
	mariadb-server mariadb-client dnsmasq-base \
	libvirt-daemon-system-sysv libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-daemon-driver-lxc libvirt-clients \
	openssh-server fence-agents apache2 \
	dpkg-dev lintian debootstrap zstd binutils gcc man-db iptables
# The qemu guest with Debian's kernel for IPVS (.ci/vm; the kernel package itself is fetched
# with apt-get download on first use, never installed), and ipvsadm for the comparisons.
VM_PACKAGES := qemu-system-x86 busybox-static kmod xz-utils ipvsadm
# The peers the benchmarks compare with.
BENCH_PACKAGES := keepalived ldirectord
PACKAGES := $(BUILD_PACKAGES) $(TEST_PACKAGES) $(VM_PACKAGES)

.PHONY: all deps build lint test unit integration ipvs-test e2e bench demo install uninstall \
	deb deb-test record-metadata check-metadata clean

all: build

deps:
	@missing=$$(for p in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v $(SWIFT) >/dev/null || { echo "Swift 6 is needed (expected in /opt/swift)"; exit 1; }

build:
	$(SWIFT) build $(RELEASE_FLAGS)
	rm -rf $(PROVIDER_DIR) && mkdir -p $(PROVIDER_DIR)
	for agent in $(AGENTS); do cp $(RELEASE_BIN)/$$agent $(PROVIDER_DIR)/; done
	rm -rf $(LAB_LIBEXEC_DIR) && mkdir -p $(LAB_LIBEXEC_DIR)
	for daemon in $(DAEMONS); do cp $(RELEASE_BIN)/$$daemon $(LAB_LIBEXEC_DIR)/; done
	rm -rf $(LAB_SBIN_DIR) && mkdir -p $(LAB_SBIN_DIR)
	for agent in $(FENCE_AGENTS); do cp $(RELEASE_BIN)/$$agent $(LAB_SBIN_DIR)/; done
	rm -rf $(MAN_BUILD_DIR) && mkdir -p $(MAN_BUILD_DIR)
	for agent in $(AGENTS); do $(RELEASE_BIN)/$$agent manpage > $(MAN_BUILD_DIR)/ocf_$(PROVIDER)_$$agent.7; done
	for agent in $(FENCE_AGENTS); do $(RELEASE_BIN)/$$agent -o manpage > $(MAN_BUILD_DIR)/$$agent.8; done
	for tool in $(TOOLS); do $(RELEASE_BIN)/$$tool manpage > $(MAN_BUILD_DIR)/$$tool.8; done

# The README's test command: unit tests, then the tests with real parts (root).
test: deps build unit integration ipvs-test e2e deb-test

# Imports match Package.swift's dependencies and its header's layers; docs/architecture.md
# shows those layers.
lint:
	.ci/lint/imports
	.ci/lint/architecture

unit: lint
	$(SWIFT) build --build-tests
	TANDEM_AGENT_DIR=$(RELEASE_BIN) $(SWIFT) test --skip-build --skip IntegrationTests --skip IPVSTests

# TANDEM_INTEGRATION_TESTS=1: a missing facility (root, ocf-tester, strace, …) fails the run.
integration:
	$(SWIFT) build --build-tests
	TANDEM_INTEGRATION_TESTS=1 TANDEM_AGENT_DIR=$(RELEASE_BIN) $(SWIFT) test --skip-build --filter IntegrationTests

# IPVS needs a kernel with IPVS: this host's when it has one, else Debian's in a qemu guest
# (.ci/vm/run-in-vm) running the same test bundle, one test at a time (two emulated CPUs; a
# Pacemaker lab beside namespace churn only slows both; 3 GiB for seed 004's four cluster nodes
# and two MariaDB servers). TANDEM_IPVS_TESTS=1
# makes a missing IPVS a failure instead of a skip. The guest's logs (lab-logs/ipvs-guest) are kept.
TEST_BUNDLE = $(shell $(SWIFT) build --show-bin-path)/TandemPackageTests.xctest
IPVS_TESTS := --testing-library swift-testing --no-parallel --filter IPVSTests
HOST_HAS_IPVS := [ -e /proc/net/ip_vs ] || modprobe -q ip_vs 2>/dev/null

# In the guest: the agents' location, and the Pacemaker lab's deadlines scaled for emulation.
GUEST_LAB_ENV := -e TANDEM_AGENT_DIR=$(RELEASE_BIN) -e TANDEM_PROVIDER_DIR=$(PROVIDER_DIR) -e LAB_SLOW=5 \
	-e LAB_UP_TIMEOUT=300 -e LAB_ONLINE_TIMEOUT=300 -e LAB_STOP_TIMEOUT=120 -e LAB_KILL_TIMEOUT=60

ipvs-test:
	$(SWIFT) build --build-tests
	if $(HOST_HAS_IPVS); then \
		TANDEM_IPVS_TESTS=1 TANDEM_AGENT_DIR=$(RELEASE_BIN) $(TEST_BUNDLE) $(IPVS_TESTS); \
	else \
		rm -rf lab-logs/ipvs-guest && mkdir -p lab-logs/ipvs-guest && \
		VM_TIMEOUT=2400 VM_MEM=3072 VM_CPUS=2 VM_RUNDIR=$(CURDIR)/lab-logs/ipvs-guest .ci/vm/run-in-vm \
			-e TANDEM_IPVS_TESTS=1 $(GUEST_LAB_ENV) -- $(TEST_BUNDLE) $(IPVS_TESTS); \
	fi

# The VIP follows a crashed node: 3 corosync + Pacemaker nodes, ocf:tandem:vip.
VIP_PRIMITIVE := ocf:tandem:vip params ip=198.18.0.50

e2e:
	.ci/lab/failover --provider $(PROVIDER)=$(PROVIDER_DIR) --agent-primitive "$(VIP_PRIMITIVE)" \
		--logs $(CURDIR)/lab-logs/failover

bench: deps build
	$(MAKE) --no-print-directory deps PACKAGES="$(BENCH_PACKAGES)"
	$(RELEASE_BIN)/tandem-bench vip
	if $(HOST_HAS_IPVS); then $(RELEASE_BIN)/tandem-bench ipvs; \
	else VM_TIMEOUT=3600 VM_MEM=512 .ci/vm/run-in-vm -- $(RELEASE_BIN)/tandem-bench ipvs; fi
	# healthcheck against keepalived and ldirectord: 1000 real servers over HTTP for 60 s each
	# (two vCPUs: the farm's nginx and the checker each get one).
	if $(HOST_HAS_IPVS); then $(RELEASE_BIN)/tandem-bench healthcheck; \
	else rm -rf lab-logs/bench && mkdir -p lab-logs/bench && \
		VM_TIMEOUT=5400 VM_MEM=2048 VM_CPUS=2 VM_RUNDIR=$(CURDIR)/lab-logs/bench .ci/vm/run-in-vm -- $(RELEASE_BIN)/tandem-bench healthcheck; fi
	# seed 002's director pair failing over under Pacemaker, against IPaddr2 + ldirectord
	if $(HOST_HAS_IPVS); then $(RELEASE_BIN)/tandem-bench failover; \
	else rm -rf lab-logs/bench-failover && mkdir -p lab-logs/bench-failover && \
		VM_TIMEOUT=5400 VM_MEM=2048 VM_CPUS=2 VM_RUNDIR=$(CURDIR)/lab-logs/bench-failover .ci/vm/run-in-vm $(GUEST_LAB_ENV) \
			-- $(RELEASE_BIN)/tandem-bench failover; fi
	# mysql-mm against ocf:heartbeat:mysql on a real MariaDB pair (no IPVS needed)
	$(RELEASE_BIN)/tandem-bench mysql
	# fence_libvirt against fence_virsh on a real libvirtd's TCG guest, through the same sshd
	$(RELEASE_BIN)/tandem-bench fence
	# seed 004 under Pacemaker: the writer's mysqld killed, the rw VIP writing on the other master
	if $(HOST_HAS_IPVS); then $(RELEASE_BIN)/tandem-bench mysql-failover; \
	else rm -rf lab-logs/bench-mysql-failover && mkdir -p lab-logs/bench-mysql-failover && \
		VM_TIMEOUT=5400 VM_MEM=3072 VM_CPUS=2 VM_RUNDIR=$(CURDIR)/lab-logs/bench-mysql-failover .ci/vm/run-in-vm $(GUEST_LAB_ENV) \
			-- $(RELEASE_BIN)/tandem-bench mysql-failover; fi

# The README's first command: seed 002's director pair (tandem-demo) in the IPVS guest. Logs: lab-logs/demo.
demo: deps build
	rm -rf lab-logs/demo && mkdir -p lab-logs/demo
	@if $(HOST_HAS_IPVS); then $(RELEASE_BIN)/tandem-demo; else \
		echo "Booting the IPVS guest (qemu, Debian's kernel, 2 vCPUs)"; \
		VM_TIMEOUT=900 VM_MEM=2048 VM_CPUS=2 VM_RUNDIR=$(CURDIR)/lab-logs/demo .ci/vm/run-in-vm $(GUEST_LAB_ENV) \
			-- $(RELEASE_BIN)/tandem-demo; fi

# Where install puts man pages and crmsh wizards (docs/wizards/<name>/main.yml, each one crmsh script).
MAN_DIR = $(PREFIX)/share/man
MAN7_PAGES := $(AGENTS:%=ocf_$(PROVIDER)_%.7)
MAN8_PAGES := $(FENCE_AGENTS:=.8) $(TOOLS:=.8)
WIZARDS_DIR := $(CURDIR)/docs/wizards
WIZARDS = $(patsubst $(WIZARDS_DIR)/%/main.yml,%,$(wildcard $(WIZARDS_DIR)/*/main.yml))
CRMSH_SCRIPTS_DIR = $(PREFIX)/share/crmsh/scripts

install: build
	install -d $(DESTDIR)$(OCF_ROOT)/resource.d/$(PROVIDER)
	for agent in $(AGENTS); do \
		install -s -m 0755 $(RELEASE_BIN)/$$agent $(DESTDIR)$(OCF_ROOT)/resource.d/$(PROVIDER)/$$agent; done
	install -d $(DESTDIR)$(LIBEXEC_DIR)
	for daemon in $(DAEMONS); do install -s -m 0755 $(RELEASE_BIN)/$$daemon $(DESTDIR)$(LIBEXEC_DIR)/$$daemon; done
	install -d $(DESTDIR)$(SBIN_DIR)
	for agent in $(FENCE_AGENTS); do install -s -m 0755 $(RELEASE_BIN)/$$agent $(DESTDIR)$(SBIN_DIR)/$$agent; done
	set -e; for tool in $(TOOLS); do install -s -m 0755 $(RELEASE_BIN)/$$tool $(DESTDIR)$(SBIN_DIR)/$$tool; done
	install -d $(DESTDIR)$(MAN_DIR)/man7 $(DESTDIR)$(MAN_DIR)/man8
	set -e; for page in $(MAN7_PAGES); do gzip -9n < $(MAN_BUILD_DIR)/$$page > $(DESTDIR)$(MAN_DIR)/man7/$$page.gz; \
		chmod 0644 $(DESTDIR)$(MAN_DIR)/man7/$$page.gz; done
	set -e; for page in $(MAN8_PAGES); do gzip -9n < $(MAN_BUILD_DIR)/$$page > $(DESTDIR)$(MAN_DIR)/man8/$$page.gz; \
		chmod 0644 $(DESTDIR)$(MAN_DIR)/man8/$$page.gz; done
	set -e; for wizard in $(WIZARDS); do \
		install -D -m 0644 $(WIZARDS_DIR)/$$wizard/main.yml $(DESTDIR)$(CRMSH_SCRIPTS_DIR)/$$wizard/main.yml; done

uninstall:
	for agent in $(AGENTS); do rm -f $(DESTDIR)$(OCF_ROOT)/resource.d/$(PROVIDER)/$$agent; done
	-rmdir $(DESTDIR)$(OCF_ROOT)/resource.d/$(PROVIDER)
	for daemon in $(DAEMONS); do rm -f $(DESTDIR)$(LIBEXEC_DIR)/$$daemon; done
	-rmdir $(DESTDIR)$(LIBEXEC_DIR)
	for agent in $(FENCE_AGENTS); do rm -f $(DESTDIR)$(SBIN_DIR)/$$agent; done
	for tool in $(TOOLS); do rm -f $(DESTDIR)$(SBIN_DIR)/$$tool; done
	for page in $(MAN7_PAGES); do rm -f $(DESTDIR)$(MAN_DIR)/man7/$$page.gz; done
	for page in $(MAN8_PAGES); do rm -f $(DESTDIR)$(MAN_DIR)/man8/$$page.gz; done
	for wizard in $(WIZARDS); do rm -f $(DESTDIR)$(CRMSH_SCRIPTS_DIR)/$$wizard/main.yml; \
		rmdir $(DESTDIR)$(CRMSH_SCRIPTS_DIR)/$$wizard 2>/dev/null || true; done

# The Debian package: make install into a staging tree, then .ci/deb/build-deb (control from
# .ci/deb/debian, Depends from dpkg-shlibdeps, dpkg-deb). The version is tandemVersion.
DEB_DIR := $(CURDIR)/.build/deb
DEB_VERSION = $(shell sed -n 's/^public let tandemVersion = "\([^"]*\)".*/\1/p' Sources/OCF/Version.swift)
DEB_FILE = $(DEB_DIR)/tandem_$(DEB_VERSION)_$(shell dpkg --print-architecture).deb

# -o build: deb's own prerequisite has just built everything.
deb: build
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)
	$(MAKE) --no-print-directory -o build install DESTDIR=$(DEB_DIR)/root PREFIX=/usr OCF_ROOT=/usr/lib/ocf
	.ci/deb/build-deb $(DEB_DIR)/root $(DEB_DIR) $(DEB_VERSION)

# The package in a clean Debian 12 root (debootstrap, cached in /var/cache/tandem-tests): lintian,
# install with apt-get, the agents through crm_resource, crmsh and stonith_admin, the man pages,
# purge leaves nothing. Logs: lab-logs/deb-test/<run>.
deb-test: deb
	.ci/deb/test-package --logs $(CURDIR)/lab-logs/deb-test $(DEB_FILE)

# Golden meta-data (Tests/AgentTests/Snapshots): write them anew after an intended change.
record-metadata: build
	$(SWIFT) build --build-tests
	RECORD_SNAPSHOTS=1 TANDEM_AGENT_DIR=$(RELEASE_BIN) $(SWIFT) test --skip-build --filter "MetadataSnapshotTests|FenceLibvirtUnitTests"

check-metadata: build
	$(SWIFT) build --build-tests
	TANDEM_AGENT_DIR=$(RELEASE_BIN) $(SWIFT) test --skip-build --filter "MetadataSnapshotTests|FenceLibvirtUnitTests"

clean:
	rm -rf .build lab-logs
