package goproxy

import "github.com/gatehouse-dev/gatehouse/internal/gitexec"

// gitEnv is the environment the tests' own git runs use: the server's (gitexec.Env).
func gitEnv() []string { return gitexec.Env() }
