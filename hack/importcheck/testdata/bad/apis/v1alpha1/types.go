package v1alpha1

import _ "github.com/plinth-io/plinth/controllers/component"
