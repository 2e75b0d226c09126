package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/authn/apikey"
)

// newKeysCmd manages API keys in the key database the gateway reads.
func newKeysCmd(env *Env) *cobra.Command {
	var db, format string
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list, rotate and revoke API keys",
		Long: `Manage the API keys that authenticate callers.

Keys are stored only as hashes: a key's plaintext is printed once, by
create or rotate, and cannot be recovered. A running gateway notices
changes to the database within a second.`,
	}
	cmd.PersistentFlags().StringVar(&db, "db", "", "path of the key database (SQLite; required)")
	cmd.PersistentFlags().StringVar(&format, "format", "table", "output format: table or json")

	open := func() (*apikey.Store, error) {
		if db == "" {
			return nil, Usage("--db is required")
		}
		if format != "table" && format != "json" {
			return nil, Usage("--format must be table or json, not %q", format)
		}
		s, err := apikey.OpenStore(db)
		if err != nil {
			return nil, Usage("%v", err)
		}
		return s, nil
	}

	var (
		name, tenant, expires string
		roles, attrs          []string
		rate                  float64
		burst                 int
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a key and print it once",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			spec := apikey.Spec{Name: name, Roles: roles, Tenant: tenant, Rate: rampart.RateLimit{PerSecond: rate, Burst: burst}}
			if expires != "" {
				t, err := parseExpiry(expires, time.Now())
				if err != nil {
					return Usage("--expires: %v", err)
				}
				spec.Expires = t
			}
			if len(attrs) > 0 {
				spec.Attrs = map[string]string{}
				for _, a := range attrs {
					k, v, ok := strings.Cut(a, "=")
					if !ok || k == "" {
						return Usage("--attr %q: want key=value", a)
					}
					spec.Attrs[k] = v
				}
			}
			s, err := open()
			if err != nil {
				return err
			}
			defer s.Close()
			plain, k, err := s.Create(c.Context(), spec)
			if err != nil {
				return err
			}
			return printNewKey(env, format, plain, k)
		},
	}
	create.Flags().StringVar(&name, "name", "", "human-readable name of the key")
	create.Flags().StringArrayVar(&roles, "role", nil, "role granted to the key (repeatable)")
	create.Flags().StringVar(&tenant, "tenant", "", "tenant the key belongs to")
	create.Flags().StringArrayVar(&attrs, "attr", nil, "extra policy attribute key=value (repeatable)")
	create.Flags().StringVar(&expires, "expires", "", "expiry: a duration from now (720h) or an RFC 3339 time")
	create.Flags().Float64Var(&rate, "rate", 0, "per-key rate limit in requests per second (0: the route's default)")
	create.Flags().IntVar(&burst, "burst", 0, "per-key burst size")

	list := &cobra.Command{
		Use:   "list",
		Short: "List keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			defer s.Close()
			keys, err := s.List(c.Context())
			if err != nil {
				return err
			}
			return printKeys(env.Stdout, format, keys, time.Now())
		},
	}

	var grace time.Duration
	rotate := &cobra.Command{
		Use:   "rotate KEY-ID",
		Short: "Issue a new secret for a key and revoke the old one",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if grace < 0 {
				return Usage("--grace must not be negative")
			}
			s, err := open()
			if err != nil {
				return err
			}
			defer s.Close()
			plain, k, err := s.Rotate(c.Context(), args[0], grace)
			if errors.Is(err, apikey.ErrNotFound) {
				return Usage("%v", err)
			}
			if err != nil {
				return err
			}
			if format == "table" {
				when := "now"
				if grace > 0 {
					when = "in " + grace.String()
				}
				fmt.Fprintf(env.Stderr, "key %s is revoked %s\n", args[0], when)
			}
			return printNewKey(env, format, plain, k)
		},
	}
	rotate.Flags().DurationVar(&grace, "grace", 0, "keep the old key working this long (e.g. 1h)")

	revoke := &cobra.Command{
		Use:   "revoke KEY-ID",
		Short: "Revoke a key now",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			defer s.Close()
			err = s.Revoke(c.Context(), args[0])
			if errors.Is(err, apikey.ErrNotFound) {
				return Usage("%v", err)
			}
			if err != nil {
				return err
			}
			if format == "json" {
				return json.NewEncoder(env.Stdout).Encode(map[string]string{"id": args[0], "status": "revoked"})
			}
			fmt.Fprintf(env.Stdout, "revoked %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, rotate, revoke)
	return cmd
}

// parseExpiry reads a duration from now or an absolute RFC 3339 time that
// must lie in the future.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("duration %s is not positive", s)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration nor an RFC 3339 time", s)
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("%s is in the past", s)
	}
	return t, nil
}

func printNewKey(env *Env, format, plain string, k apikey.Key) error {
	if format == "json" {
		return json.NewEncoder(env.Stdout).Encode(struct {
			Plaintext string `json:"key"`
			apikey.Key
		}{plain, k})
	}
	fmt.Fprintf(env.Stdout, "id:     %s\nname:   %s\nroles:  %s\ntenant: %s\n\n%s\n\n", k.ID, k.Name, strings.Join(k.Roles, ","), k.Tenant, plain)
	fmt.Fprintln(env.Stderr, "WARNING: this is the only time the key is shown; it is not stored. Keep it in a secret manager.")
	return nil
}

func printKeys(w io.Writer, format string, keys []apikey.Key, now time.Time) error {
	if format == "json" {
		type row struct {
			apikey.Key
			Status string `json:"status"`
		}
		rows := make([]row, len(keys))
		for i, k := range keys {
			rows[i] = row{k, k.Status(now)}
		}
		return json.NewEncoder(w).Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tROLES\tTENANT\tRATE\tCREATED\tEXPIRES")
	for _, k := range keys {
		rate, exp := "-", "never"
		if !k.Rate.IsZero() {
			rate = fmt.Sprintf("%g/s burst %d", k.Rate.PerSecond, k.Rate.Burst)
		}
		if !k.Expires.IsZero() {
			exp = k.Expires.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, keysDash(k.Name), k.Status(now), keysDash(strings.Join(k.Roles, ",")),
			keysDash(k.Tenant), rate, k.Created.UTC().Format(time.RFC3339), exp)
	}
	return tw.Flush()
}

func keysDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
