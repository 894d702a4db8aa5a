package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestBootstrapSecretsNeverPrint: the root password, the root token and the instance key, like
// every other secret setting, show in no printed, encoded or logged form of the configuration.
func TestBootstrapSecretsNeverPrint(t *testing.T) {
	secrets := map[string]string{"GATEHOUSE_ROOT_PASSWORD": "root-pw-Xk29fLq", "GATEHOUSE_ROOT_TOKEN": "glpat-root-token-Vb73Jm0PqR",
		"GATEHOUSE_SECRET_KEY": "instance-key-Tn58wZc"}
	c := mustLoad(t, nil, env(secrets))
	if c.RootPassword.Reveal() != secrets["GATEHOUSE_ROOT_PASSWORD"] || c.RootToken.Reveal() != secrets["GATEHOUSE_ROOT_TOKEN"] ||
		c.SecretKey.Reveal() != secrets["GATEHOUSE_SECRET_KEY"] {
		t.Fatal("Reveal does not return the secrets")
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", c, "password", c.RootPassword)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "token", c.RootToken, "key", c.SecretKey)
	outputs := map[string]string{"json": string(j), "slog": logs.String()}
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		outputs[f] = fmt.Sprintf(f, c) + fmt.Sprintf(f, c.RootPassword) + fmt.Sprintf(f, c.RootToken) + fmt.Sprintf(f, c.SecretKey)
	}
	for name, out := range outputs {
		for env, secret := range secrets {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows %s: %s", name, env, out)
			}
		}
	}
}
