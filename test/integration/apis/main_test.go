// Package apis_test checks the Plinth CRDs against a real kube-apiserver:
// valid objects are accepted, invalid ones are rejected with a message a
// person can act on, and kubectl can explain and list them.
package apis_test

import (
	"os"
	"testing"

	"github.com/plinth-io/plinth/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }
