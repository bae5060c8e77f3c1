package main

import _ "github.com/plinth-io/plinth/internal/helper"

func main() {}
