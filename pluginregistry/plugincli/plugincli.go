// Package plugincli is the plinth-plugin command: lint plugin folders, print
// their ConfigMaps and write their kustomizations.
package plugincli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/plinth-io/plinth/pluginregistry"
)

// Command returns the plinth-plugin root command.
func Command() *cobra.Command {
	root := &cobra.Command{
		Use:   "plinth-plugin",
		Short: "Validate and package Plinth plugins",
	}
	root.AddCommand(lintCommand(), configMapsCommand(), kustomizationCommand())
	return root
}

func lintCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "lint DIR...",
		Short: "Validate every plugin version below DIR (folders with manifest.yaml or configmaps.yaml)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return Lint(cmd.OutOrStdout(), args)
		},
	}
}

// Lint validates every plugin version below dirs and writes one line per
// version (and per problem) to w; it fails when any version is invalid.
func Lint(w io.Writer, dirs []string) error {
	var sources []*pluginregistry.Source
	for _, d := range dirs {
		s, err := pluginregistry.Discover(d, pluginregistry.DefaultNamespace)
		if err != nil {
			return err
		}
		sources = append(sources, s...)
	}
	failed := 0
	for _, r := range pluginregistry.Lint(sources) {
		if r.Err == nil {
			fmt.Fprintf(w, "ok   %s %s (%s)\n", r.Source.Plugin, r.Source.Version, r.Source.Origin)
			if len(r.Warnings) > 0 {
				fmt.Fprintf(w, "     published before the operations contract; these templates cannot run and are refused at run time:\n")
			}
			for _, fe := range r.Warnings {
				fmt.Fprintf(w, "     warning: %s\n", fe.Error())
			}
			continue
		}
		failed++
		fmt.Fprintf(w, "FAIL %s %s (%s)\n", r.Source.Plugin, r.Source.Version, r.Source.Origin)
		for _, line := range errorLines(r.Err) {
			fmt.Fprintf(w, "     %s\n", line)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d plugin versions are invalid", failed, len(sources))
	}
	return nil
}

func errorLines(err error) []string {
	if inv, ok := err.(*pluginregistry.InvalidError); ok {
		var out []string
		for _, fe := range inv.Errors {
			out = append(out, fe.Error())
		}
		return out
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, errorLines(e)...)
		}
		return out
	}
	return []string{err.Error()}
}

func configMapsCommand() *cobra.Command {
	var namespace string
	cmd := &cobra.Command{
		Use:   "configmaps DIR",
		Short: "Print the immutable ConfigMaps of every plugin version below DIR (after linting them)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sources, err := pluginregistry.Discover(args[0], namespace)
			if err != nil {
				return err
			}
			for _, r := range pluginregistry.Lint(sources) {
				if r.Err != nil {
					return fmt.Errorf("%s %s (%s) is invalid; run plinth-plugin lint: %w", r.Source.Plugin, r.Source.Version, r.Source.Origin, r.Err)
				}
			}
			for _, s := range sources {
				if err := pluginregistry.WriteConfigMaps(cmd.OutOrStdout(), s.ConfigMaps); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", pluginregistry.DefaultNamespace, "namespace of the ConfigMaps")
	return cmd
}

func kustomizationCommand() *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "kustomization DIR",
		Short: "Write kustomization.yaml into every plugin version folder below DIR (--check: fail if one is stale)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sources, err := pluginregistry.Discover(args[0], "")
			if err != nil {
				return err
			}
			stale := 0
			for _, s := range sources {
				if filepath.Base(s.Origin) == pluginregistry.ConfigMapsFile {
					continue
				}
				path := filepath.Join(s.Origin, "kustomization.yaml")
				want := pluginregistry.Kustomization(s)
				have, _ := os.ReadFile(path)
				if string(have) == want {
					continue
				}
				if check {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s is stale: run plinth-plugin kustomization %s (make plugins-generate)\n", path, args[0])
					stale++
					continue
				}
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", path)
			}
			if stale > 0 {
				return fmt.Errorf("%d kustomization files are stale", stale)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "do not write; fail when a file is stale")
	return cmd
}
