package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// GrantGeneratedRBAC creates the roles generated for binary from its markers
// (deploy/kustomize/base/rbac/<binary>/role.yaml, docs/rbac.md) and binds
// each to user, keeping any that already exist. It returns how many roles
// (ClusterRoles and Roles) the file holds.
func (e *Env) GrantGeneratedRBAC(ctx context.Context, binary, user string) (int, error) {
	path := filepath.Join(e.Root, "deploy", "kustomize", "base", "rbac", binary, "role.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	subjects := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	roles := 0
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return roles, nil
		}
		if err != nil {
			return roles, fmt.Errorf("%s: %w", path, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return roles, fmt.Errorf("%s: %w", path, err)
		}
		var objs []client.Object
		switch meta.Kind {
		case "ClusterRole":
			var r rbacv1.ClusterRole
			if err := yaml.UnmarshalStrict(doc, &r); err != nil {
				return roles, fmt.Errorf("%s: %w", path, err)
			}
			objs = []client.Object{&r, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: r.Name},
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: r.Name}, Subjects: subjects}}
		case "Role":
			var r rbacv1.Role
			if err := yaml.UnmarshalStrict(doc, &r); err != nil {
				return roles, fmt.Errorf("%s: %w", path, err)
			}
			objs = []client.Object{&r, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace},
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: r.Name}, Subjects: subjects}}
		default:
			return roles, fmt.Errorf("%s: unexpected kind %q", path, meta.Kind)
		}
		for _, o := range objs {
			if err := e.Client.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
				return roles, fmt.Errorf("creating %s: %w", o.GetName(), err)
			}
		}
		roles++
	}
}
