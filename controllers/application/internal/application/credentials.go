package application

import (
	"crypto/rand"
	"fmt"
	"math/big"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
)

// Keys of the credentials Secret. The plugins' pod templates read them
// (secretKeyRef on .Secrets.Credentials).
const (
	KeyUsername            = "username"
	KeyPassword            = "password"
	KeyReplicationPassword = "replication-password"
)

// defaultUsername is the administrative user of a middleware whose plugin
// does not name one (manifest admin-user).
const defaultUsername = "admin"

// passwordLength is long enough for 190 bits from the alphabet below.
const passwordLength = 32

// passwordAlphabet avoids characters that need quoting in shells, URLs and
// configuration files.
const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// randomPassword draws a password from crypto/rand.
func randomPassword() (string, error) {
	b := make([]byte, passwordLength)
	limit := big.NewInt(int64(len(passwordAlphabet)))
	for i := range b {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return "", fmt.Errorf("reading random bytes for a password: %w", err)
		}
		b[i] = passwordAlphabet[n.Int64()]
	}
	return string(b), nil
}

// credentialsSecret is a new credentials Secret for app, with fresh random
// passwords. It is created once and never regenerated.
func credentialsSecret(app *plinthv1.Application, username string) (*corev1.Secret, error) {
	if username == "" {
		username = defaultUsername
	}
	password, err := randomPassword()
	if err != nil {
		return nil, err
	}
	replication, err := randomPassword()
	if err != nil {
		return nil, err
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:            naming.CredentialsSecret(app.Name),
			Namespace:       app.Namespace,
			Labels:          ownedLabels(app.Name, ""),
			OwnerReferences: []metav1.OwnerReference{ownerRef(app)},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			KeyUsername:            []byte(username),
			KeyPassword:            []byte(password),
			KeyReplicationPassword: []byte(replication),
		},
	}, nil
}
