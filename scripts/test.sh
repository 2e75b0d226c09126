#!/usr/bin/env bash
# Runs Rampart's whole test suite on a fresh Debian machine with only Go
# installed. It installs what the end-to-end tests need (Debian's python3
# with PyTorch and scikit-learn for real upstream model servers, scipy for
# reference statistics, Fashion-MNIST for the data guard's evaluation,
# Node.js and the official openai npm client) and then runs every Go test, end-to-end
# tests included, against the real binary.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local

need_pkgs=()
/usr/bin/python3 -c 'import torch, sklearn, numpy, scipy' 2>/dev/null || need_pkgs+=(python3-torch python3-sklearn python3-numpy python3-scipy)
# The data guard's evaluation reads Debian's Fashion-MNIST.
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || need_pkgs+=(dataset-fashion-mnist)
command -v node >/dev/null 2>&1 || need_pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || need_pkgs+=(npm)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"
fi

if [ -f test/e2e/js/package.json ] && [ ! -d test/e2e/js/node_modules/openai ]; then
  echo "== installing npm packages for test/e2e/js"
  (cd test/e2e/js && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "== go vet"
go vet ./...
echo "== go build"
go build -o bin/rampart ./cmd/rampart
echo "== go test"
RAMPART_BIN="$PWD/bin/rampart" go test -count=1 -timeout 40m ./...
echo "== go test -race"
go test -race -count=1 -timeout 20m $(go list ./... | grep -v /test/e2e)
echo "== end-to-end tests against a -race build of the binary"
go build -race -o bin/rampart-race ./cmd/rampart
RAMPART_BIN="$PWD/bin/rampart-race" go test -count=1 -timeout 20m ./test/e2e
