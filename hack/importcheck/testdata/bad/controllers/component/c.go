package component

import _ "github.com/plinth-io/plinth/controllers/workloadset"
