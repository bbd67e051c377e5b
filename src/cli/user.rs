//! `rexist user add | passwd | disable | enable | list` and
//! `rexist token create | list | revoke`: accounts and API tokens, straight
//! on the store (whoever runs the CLI administers the installation). Every
//! change goes to the audit log as actor `cli`.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use rexist_core::{NewAudit, Role, Scope};
use rexist_server::admin::{TokenRequest, check_password_strength, issue_token};
use rexist_server::auth::hash_password;
use rexist_store::{Store, UserChange};

use super::say;
use crate::config::Config;

/// `rexist user …`
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from --password-file, asked twice on a terminal, or read from the first line of stdin.
    Add {
        /// Login name.
        name: String,
        /// `admin`, `analyst` or `viewer`.
        #[arg(long, default_value = "viewer")]
        role: Role,
        /// File whose first line is the password.
        #[arg(long)]
        password_file: Option<std::path::PathBuf>,
    },
    /// Set a user's password (from --password-file, asked twice on a terminal, or stdin's first line); ends their sessions.
    Passwd {
        /// Login name.
        name: String,
        /// File whose first line is the password.
        #[arg(long)]
        password_file: Option<std::path::PathBuf>,
    },
    /// Change a user's role.
    Role {
        /// Login name.
        name: String,
        /// The new role.
        role: Role,
    },
    /// Disable a user: no logins, sessions end, their tokens stop working.
    Disable {
        /// Login name.
        name: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// Login name.
        name: String,
    },
    /// List users.
    List,
}

/// `rexist token …`
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print it on its own line; it is not shown again.
    Create {
        /// A name to tell it apart (unique among live tokens).
        #[arg(long)]
        name: String,
        /// `admin`, `analyst` or `viewer`.
        #[arg(long)]
        role: Role,
        /// Where it may be used: `api`, `taxii`, `export`, `metrics` (repeatable or comma-separated; everywhere but `/metrics` by default).
        #[arg(long = "scope", value_delimiter = ',')]
        scopes: Vec<Scope>,
        /// Days until it expires (never by default).
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by name.
    Revoke {
        /// The token's name.
        name: String,
    },
}

fn read_password(file: Option<&std::path::Path>) -> Result<String> {
    let line = if let Some(path) = file {
        rexist_http::read_secret_file(path, "password file")
            .with_context(|| format!("cannot read {}", path.display()))?
            .expose()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    } else if std::io::stdin().is_terminal() {
        // On a terminal: asked twice, never echoed.
        let first = rpassword::prompt_password("Password: ").context("reading the password")?;
        check_password_strength(&first).map_err(anyhow::Error::msg)?;
        let again =
            rpassword::prompt_password("Password again: ").context("reading the password")?;
        if first != again {
            bail!("the two passwords differ; nothing changed");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    check_password_strength(&line).map_err(anyhow::Error::msg)?;
    Ok(line)
}

async fn audit(store: &dyn Store, action: &str, target: &str) {
    let entry = NewAudit {
        actor: "cli".to_owned(),
        action: action.to_owned(),
        target: Some(target.to_owned()),
        outcome: "ok".to_owned(),
        address: None,
    };
    if let Err(e) = store.record_audit(&entry).await {
        tracing::warn!(error = %e, "could not write the audit log");
    }
}

/// Runs `rexist user …`.
pub async fn run_user(config: &Config, command: UserCommand) -> Result<ExitCode> {
    let store = super::open_store(config).await?;
    let store = store.as_ref();
    let change = |name: &str, change: UserChange, action: &'static str| {
        let name = name.to_owned();
        async move {
            match store.update_user(&name, &change).await? {
                Some(u) => {
                    audit(store, action, &name).await;
                    say(format_args!(
                        "{} {} ({}{})",
                        action.trim_start_matches("user."),
                        u.name,
                        u.role,
                        if u.disabled { ", disabled" } else { "" }
                    ));
                    Ok(ExitCode::SUCCESS)
                }
                None => bail!("no user {name:?}"),
            }
        }
    };
    match command {
        UserCommand::Add {
            name,
            role,
            password_file,
        } => {
            let password = read_password(password_file.as_deref())?;
            let hash = hash_password(&password).map_err(anyhow::Error::msg)?;
            let user = store.create_user(&name, &hash, role).await?;
            audit(store, "user.add", &name).await;
            say(format_args!("added {} ({})", user.name, user.role));
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Passwd {
            name,
            password_file,
        } => {
            let password = read_password(password_file.as_deref())?;
            let hash = hash_password(&password).map_err(anyhow::Error::msg)?;
            let c = UserChange {
                password_hash: Some(hash),
                ..UserChange::default()
            };
            let done = change(&name, c, "user.passwd").await?;
            rexist_server::first_admin::password_changed(&config.data_dir, &name);
            Ok(done)
        }
        UserCommand::Role { name, role } => {
            let c = UserChange {
                role: Some(role),
                ..UserChange::default()
            };
            change(&name, c, "user.role").await
        }
        UserCommand::Disable { name } => {
            let c = UserChange {
                disabled: Some(true),
                ..UserChange::default()
            };
            change(&name, c, "user.disable").await
        }
        UserCommand::Enable { name } => {
            let c = UserChange {
                disabled: Some(false),
                ..UserChange::default()
            };
            change(&name, c, "user.enable").await
        }
        UserCommand::List => {
            for u in store.list_users().await? {
                say(format_args!(
                    "{}\t{}\t{}",
                    u.name,
                    u.role,
                    if u.disabled { "disabled" } else { "enabled" }
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs `rexist token …`.
pub async fn run_token(config: &Config, command: TokenCommand) -> Result<ExitCode> {
    let store = super::open_store(config).await?;
    let store = store.as_ref();
    match command {
        TokenCommand::Create {
            name,
            role,
            scopes,
            expires_days,
        } => {
            let req = TokenRequest {
                name,
                role,
                scopes,
                expires_days,
            };
            let (token, secret) = issue_token(store, &req).await?;
            audit(store, "token.create", &token.name).await;
            eprintln!(
                "token {} ({}) created; it is shown once, here:",
                token.name, token.role
            );
            say(format_args!("{secret}"));
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List => {
            for t in store.list_tokens().await? {
                let state = if t.revoked {
                    "revoked"
                } else if t.expires_at.is_some_and(|e| e < rexist_core::model::now()) {
                    "expired"
                } else {
                    "live"
                };
                let scopes = if t.scopes.is_empty() {
                    "all".to_owned()
                } else {
                    t.scopes
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                };
                say(format_args!(
                    "{}\t{}\t{}\t{}…\t{}\tlast used {}",
                    t.name,
                    t.role,
                    scopes,
                    t.prefix,
                    state,
                    t.last_used_at
                        .map_or_else(|| "never".to_owned(), super::source::short_time)
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { name } => {
            if store.revoke_token("token", &name).await? == 0 {
                bail!("no live token named {name:?}");
            }
            audit(store, "token.revoke", &name).await;
            say(format_args!("revoked {name}"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
