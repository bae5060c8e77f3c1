package component_test

import (
	"fmt"

	policyv1 "k8s.io/api/policy/v1"
)

type policyPDB = policyv1.PodDisruptionBudget

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
