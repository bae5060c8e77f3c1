package app

import _ "github.com/plinth-io/plinth/controllers/application"
