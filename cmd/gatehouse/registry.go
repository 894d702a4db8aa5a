package main

import (
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// registryCmd groups container-registry administration.
func registryCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "registry", Short: "Container registry administration"}
	cmd.AddCommand(registryKeyCmd())
	return cmd
}

// registryKeyCmd prints the public half of the registry token signing key.
func registryKeyCmd() *cobra.Command {
	var jwks bool
	cmd := &cobra.Command{Use: "key", Short: "Print the registry token signing certificate (PEM) or, with --jwks, a JWKS",
		Long: `Print the public half of the key that signs the tokens /jwt/auth issues (ES256; generated on
first start and shared by every node). An external CNCF Distribution registry verifies them with:

  auth:
    token:
      realm: <external URL>/jwt/auth
      service: container_registry
      issuer: gatehouse
      rootcertbundle: <this command's output>   # tokens carry the certificate in x5c
      jwks: <output of --jwks>                   # tokens carry its thumbprint as kid`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			key, err := server.RegistrySigningKey(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			out := key.CertificatePEM()
			if jwks {
				if out, err = key.JWKS(); err != nil {
					return err
				}
				out = append(out, '\n')
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		}}
	cmd.Flags().BoolVar(&jwks, "jwks", false, "print a JSON Web Key Set instead of the PEM certificate")
	config.Flags(cmd.Flags())
	return cmd
}
