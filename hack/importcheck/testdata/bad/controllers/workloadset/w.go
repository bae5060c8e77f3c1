package workloadset

import _ "github.com/plinth-io/plinth/pluginregistry"
