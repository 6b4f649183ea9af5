# Release packaging: `make dist` and `make test-packaging`. Included by the
# Makefile; also works alone: make -f packaging/dist.mk [VERSION=v1.2.3] dist
#
# dist:            cross-builds windows/amd64, linux/amd64, linux/arm64 and
#                  darwin/arm64, then the .deb/.rpm (nfpm) and tar.gz of both
#                  Linux architectures and the Windows installer (NSIS), into
#                  $(DIST)/ with SHA256SUMS. Needs Go and makensis (apt-get
#                  install nsis); signs the Windows files when
#                  PURPLEBOOK_SIGN_CERT is set (packaging/windows/sign.sh).
# test-packaging:  as root: installs and removes the .deb and the tar.gz,
#                  builds and inspects the installer (packaging/test-*.sh).

GO            ?= go
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS       ?= -s -w -X github.com/purplebook/purplebook/app/diag.Version=$(VERSION)
GOFLAGS_BUILD ?= -trimpath -ldflags "$(LDFLAGS)"
DIST          ?= dist
# Evaluate git describe once: every file of a dist carries the same version.
VERSION       := $(VERSION)

DIST_BIN = $(DIST)/purplebook_$(VERSION)_$(1)_$(2)$(if $(filter windows,$(1)),.exe)
DIST_PLATFORMS := windows/amd64 linux/amd64 linux/arm64 darwin/arm64
PKG_BIN_DIR := bin/packaging

# Fail before building anything when the installer cannot be made.
ifneq ($(filter dist dist-windows,$(MAKECMDGOALS)),)
ifeq ($(shell command -v makensis 2>/dev/null),)
$(error makensis is missing: apt-get install nsis)
endif
endif

.PHONY: dist dist-binaries dist-linux dist-windows dist-sums test-packaging

dist: dist-sums
	@echo "make dist: $(VERSION) in $(DIST)/"
	@ls -l $(DIST) | awk 'NR > 1 { printf "  %10d  %s\n", $$5, $$9 }'

dist-sums: dist-linux dist-windows
	cd $(DIST) && rm -f SHA256SUMS && sha256sum -- * > SHA256SUMS

dist-binaries:
	rm -rf $(DIST)
	@mkdir -p $(DIST)
	$(foreach p,$(DIST_PLATFORMS),CGO_ENABLED=0 GOOS=$(word 1,$(subst /, ,$(p))) GOARCH=$(word 2,$(subst /, ,$(p))) \
	  $(GO) build $(GOFLAGS_BUILD) -o $(call DIST_BIN,$(word 1,$(subst /, ,$(p))),$(word 2,$(subst /, ,$(p)))) . &&) true

dist-linux: dist-binaries
	GO="$(GO)" packaging/build-linux.sh amd64 $(call DIST_BIN,linux,amd64) $(VERSION) $(DIST)
	GO="$(GO)" packaging/build-linux.sh arm64 $(call DIST_BIN,linux,arm64) $(VERSION) $(DIST)

dist-windows: dist-binaries
	GO="$(GO)" packaging/windows/build.sh $(call DIST_BIN,windows,amd64) $(VERSION) $(DIST)/purplebook-$(VERSION)-setup.exe

## test-packaging: the CI checks of the packages (root; see packaging/test-*.sh).
test-packaging:
	@mkdir -p $(PKG_BIN_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build $(GOFLAGS_BUILD) -o $(PKG_BIN_DIR)/purplebook-linux-amd64 .
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build $(GOFLAGS_BUILD) -o $(PKG_BIN_DIR)/purplebook-windows-amd64.exe .
	packaging/test-pkg-version.sh
	VERSION=$(VERSION) GO="$(GO)" packaging/test-deb.sh $(PKG_BIN_DIR)/purplebook-linux-amd64
	VERSION=$(VERSION) GO="$(GO)" packaging/test-tarball.sh $(PKG_BIN_DIR)/purplebook-linux-amd64
	VERSION=$(VERSION) GO="$(GO)" packaging/test-nsis.sh $(PKG_BIN_DIR)/purplebook-windows-amd64.exe
	@echo "make test-packaging: all passed"
