// Command plinth-plugin validates and packages Plinth plugins:
//
//	plinth-plugin lint DIR...          validate every plugin version below DIR
//	plinth-plugin configmaps DIR       print their immutable ConfigMaps
//	plinth-plugin kustomization DIR    write (or --check) each version's kustomization.yaml
package main

import (
	"os"

	"github.com/plinth-io/plinth/internal/cli"
	"github.com/plinth-io/plinth/pluginregistry/plugincli"
)

func main() { os.Exit(cli.Execute(plugincli.Command())) }
