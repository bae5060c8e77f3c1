package application

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCredentialsSecret(t *testing.T) {
	app := redisApp()
	s, err := credentialsSecret(app, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "cache-credentials" || s.Namespace != "team-a" || s.Type != corev1.SecretTypeOpaque {
		t.Errorf("secret %s/%s type %s", s.Namespace, s.Name, s.Type)
	}
	if !metav1.IsControlledBy(s, app) {
		t.Error("the Secret is not controlled by the Application")
	}
	if string(s.Data[KeyUsername]) != "postgres" {
		t.Errorf("username %q, want the plugin's admin user", s.Data[KeyUsername])
	}
	pw, repl := string(s.Data[KeyPassword]), string(s.Data[KeyReplicationPassword])
	for name, p := range map[string]string{"password": pw, "replication-password": repl} {
		if len(p) != passwordLength {
			t.Errorf("%s has %d characters, want %d", name, len(p), passwordLength)
		}
		if strings.Trim(p, passwordAlphabet) != "" {
			t.Errorf("%s has characters outside the alphabet", name)
		}
	}
	if pw == repl {
		t.Error("password and replication password are equal")
	}

	other, err := credentialsSecret(app, "")
	if err != nil {
		t.Fatal(err)
	}
	if string(other.Data[KeyUsername]) != defaultUsername {
		t.Errorf("username %q without a plugin admin user, want %q", other.Data[KeyUsername], defaultUsername)
	}
	if string(other.Data[KeyPassword]) == pw {
		t.Error("two generated passwords are equal: not random")
	}
}
