//go:build tools

// Package tools pins Helm's command in this wrapper module (built by ../build.sh).
package tools

import _ "helm.sh/helm/v3/cmd/helm"
