package testenv

import (
	"context"
	"fmt"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/plinth-io/plinth/pluginregistry"
)

// InstallPlugins creates, in namespace (created when missing), the ConfigMaps
// of the repository's plugin folders plugins/<name>/<version>, as kustomize
// would. versions are "name/version"; none means every shipped version.
func (e *Env) InstallPlugins(ctx context.Context, namespace string, versions ...string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := e.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	var dirs []string
	if len(versions) == 0 {
		dirs, _ = filepath.Glob(filepath.Join(e.Root, "plugins", "*", "v*"))
	}
	for _, v := range versions {
		dirs = append(dirs, filepath.Join(e.Root, "plugins", v))
	}
	if len(dirs) == 0 {
		return fmt.Errorf("testenv: no plugin folders under %s/plugins", e.Root)
	}
	return e.InstallPluginFolders(ctx, namespace, dirs...)
}

// InstallPluginFolders creates, in namespace (which must exist), the
// ConfigMaps of plugin version folders anywhere (test plugins under a
// package's testdata, for example).
func (e *Env) InstallPluginFolders(ctx context.Context, namespace string, dirs ...string) error {
	for _, dir := range dirs {
		src, err := pluginregistry.FromFolder(dir, namespace)
		if err != nil {
			return err
		}
		for i := range src.ConfigMaps {
			if err := e.Client.Create(ctx, &src.ConfigMaps[i]); err != nil {
				return err
			}
		}
	}
	return nil
}
