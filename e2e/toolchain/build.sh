#!/usr/bin/env bash
# Builds the local control plane's binaries from their Go modules (wrapper modules beside this
# script) into a cache outside the repository, keyed by version; only what is missing is built.
# Prints the directory holding the binaries on its last line of stdout.
#
# `build.sh istio` builds the Istio referee instead (wrapper module istio/): the real istiod
# (pilot-discovery) and meshwright's injection harness, beside a copy of the module's charts
# (manifests/) and injection test vectors (testdata/inject/), all keyed by the module's version.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${MESHWRIGHT_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshwright/toolchain}"

# module_version DIR MODULE -> the version DIR/go.mod requires of MODULE
module_version() { awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1/go.mod"; }

k8s_version="$(module_version "$here/kubernetes" k8s.io/kubernetes)"
etcd_version="$(module_version "$here/etcd" go.etcd.io/etcd/server/v3)"
kwok_version="$(module_version "$here/kwok" sigs.k8s.io/kwok)"
bin="$cache/k8s-$k8s_version-etcd-$etcd_version-kwok-$kwok_version"
if [[ "${1:-}" == istio ]]; then
  istio_version="$(module_version "$here/istio" istio.io/istio)"
  bin="$cache/istio-$istio_version"
fi
mkdir -p "$bin"

log() { printf '[toolchain] %s\n' "$*" >&2; }

# build NAME MODULE_DIR PACKAGE [LDFLAGS]: compiles PACKAGE into $bin/NAME unless it is there.
build() {
  local name="$1" dir="$2" pkg="$3" ldflags="${4:-}"
  if [[ -x "$bin/$name" ]]; then return 0; fi
  log "building $name from $pkg (cold builds take minutes on 2 cores; progress every 50 packages)"
  local start=$SECONDS tmp="$bin/.$name.tmp.$$"
  (
    cd "$dir"
    # -v lists each package as it is compiled: counting them is the progress report.
    CGO_ENABLED=0 go build -v -trimpath -ldflags "-s -w $ldflags" -o "$tmp" "$pkg" 2>&1 \
      | awk -v n="$name" '/^(#|go: |\S+\.go:)/ { print > "/dev/stderr"; next }
                          { c++; if (c % 50 == 0) printf "[toolchain] %s: %d packages compiled\n", n, c > "/dev/stderr" }'
    exit "${PIPESTATUS[0]}"
  ) || { rm -f "$tmp"; log "FAILED to build $name"; return 1; }
  mv "$tmp" "$bin/$name"
  log "built $name in $((SECONDS - start))s"
}

# The Istio referee: one lock so that concurrent callers (test files) build it once.
if [[ "${1:-}" == istio ]]; then
  exec 9>"$bin/.lock"
  flock 9
  build pilot-discovery "$here/istio" istio.io/istio/pilot/cmd/pilot-discovery
  # The harness is our code: cached by its source hash too, so a changed harness is rebuilt.
  harness="meshwright-istio-inject.$(cat "$here/istio/go.mod" "$here/istio/go.sum" "$here/istio/inject-harness/"*.go | sha256sum | cut -c1-12)"
  build "$harness" "$here/istio" ./inject-harness
  ln -sfn "$harness" "$bin/meshwright-istio-inject"
  if [[ ! -f "$bin/module/.complete" ]]; then
    src="$(cd "$here/istio" && go list -m -f '{{.Dir}}' istio.io/istio)"
    rm -rf "$bin/module" && mkdir -p "$bin/module/testdata"
    cp -r "$src/manifests" "$bin/module/manifests"
    cp -r "$src/pkg/kube/inject/testdata/inject" "$bin/module/testdata/inject"
    chmod -R u+w "$bin/module"
    touch "$bin/module/.complete"
  fi
  echo "$bin"
  exit 0
fi

minor="${k8s_version#v1.}"; minor="${minor%%.*}"
kv="-X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"

build etcd "$here/etcd" go.etcd.io/etcd/server/v3
build kwok "$here/kwok" sigs.k8s.io/kwok/cmd/kwok "-X sigs.k8s.io/kwok/pkg/consts.Version=$kwok_version"
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  build "$c" "$here/kubernetes" "k8s.io/kubernetes/cmd/$c" "$kv"
done

# GitOps referees (charts/, manifests/argocd/, e2e/gitops/): Helm, and one small wrapper holding Argo CD's
# health engine and kstatus; each cached under its own version or source hash, linked beside the rest.
# build_keyed NAME DIR PACKAGE KEY [LDFLAGS]
build_keyed() {
  local shared="$bin" name="$1"
  bin="$cache/$name-$4"; mkdir -p "$bin"
  build "$name" "$2" "$3" "${5:-}" || { bin="$shared"; return 1; }
  ln -sfn "$bin/$name" "$shared/$name"; bin="$shared"
}
helm_version="$(module_version "$here/helm" helm.sh/helm/v3)"
build_keyed helm "$here/helm" helm.sh/helm/v3/cmd/helm "$helm_version" "-X helm.sh/helm/v3/internal/version.version=$helm_version"
build_keyed gitops-referee "$here/gitops-referee" . "$(cat "$here/gitops-referee/go.mod" "$here/gitops-referee/go.sum" "$here/gitops-referee/main.go" | sha256sum | cut -c1-12)"
echo "$bin"
