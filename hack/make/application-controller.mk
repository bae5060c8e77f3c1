# application-controller: its least-privilege RBAC, generated from the
# kubebuilder markers on the reconciler. The envtest suite runs the controller
# with exactly these rules.
.PHONY: application-rbac
application-rbac: tools ## Regenerate controllers/application/rbac.yaml from the RBAC markers.
	GOWORK=off bin/controller-gen rbac:roleName=plinth-application-controller \
		paths=./controllers/application/internal/application output:rbac:stdout > controllers/application/rbac.yaml
