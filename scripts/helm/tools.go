//go:build tools

// Package tools pins the Helm CLI that scripts/helm/build builds for the chart's tests.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
