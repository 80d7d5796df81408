//! The `landpatrol` command line: serve, migrate, demo data, admin and imports.
//! `main.rs` only calls [`main`]; tests call [`run_args`] in-process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::auth::service::{NewUser, create_user};
use crate::cases::store::Actor;
use crate::config::Settings;
use crate::startup::{Application, build_state};
use crate::{cases, demo, openapi, telemetry, towns};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use landpatrol_sync::{CaseSource, Role};

/// The command line.
#[derive(Parser)]
#[command(name = "landpatrol", version, about = "Backend and sync service for land-use enforcement field inspections")]
struct Cli {
    /// Optional TOML settings file (defaults → this file → LANDPATROL__… environment).
    #[arg(long, global = true, env = "LANDPATROL_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (SQLite file, photos, generated JWT secret).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL (`sqlite://…` or `postgres://…`); default: SQLite in the data directory.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the HTTP API.
    Serve {
        /// Listen address (default 127.0.0.1:8080).
        #[arg(long)]
        addr: Option<SocketAddr>,
        /// Loads the demo data first (Baodi towns, 2017 campaign, users, cases).
        #[arg(long)]
        demo: bool,
    },
    /// Applies database migrations and exits.
    Migrate,
    /// Loads the demo data and exits.
    Demo,
    /// Administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Imports GeoJSON files.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Writes the OpenAPI document and the error table into a folder.
    Openapi {
        #[arg(long, default_value = "mobile-api-docs")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Creates a user.
    CreateUser {
        #[arg(long)]
        username: String,
        /// The password (or set LANDPATROL_NEW_PASSWORD).
        #[arg(long, env = "LANDPATROL_NEW_PASSWORD")]
        password: String,
        /// inspector, town_officer, verifier or bureau_admin.
        #[arg(long)]
        role: String,
        /// Town code or id (town officers).
        #[arg(long)]
        town: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Town boundaries: a FeatureCollection with `code` and `name` properties.
    Towns { file: PathBuf },
    /// Patches (satellite leads by default): polygons with a `patch_id` property.
    Patches {
        file: PathBuf,
        #[arg(long, default_value = "satellite")]
        source: String,
    },
}

/// Parses the process arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match settings_for(&cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn settings_for(cli: &Cli) -> Result<Settings, crate::config::SettingsError> {
    let mut settings = Settings::load(cli.config.as_deref())?;
    if let Some(dir) = &cli.data_dir {
        settings.storage.data_dir = dir.clone();
    }
    if let Some(url) = &cli.database_url {
        settings.database.url = url.clone();
    }
    Ok(settings)
}

/// Runs a command line (without `serve`'s endless loop being special) inside
/// the caller's runtime; used by tests.
pub async fn run_args<I, T>(args: I) -> Result<(), AnyError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    let settings = settings_for(&cli)?;
    run(cli.command, settings).await
}

/// Any error of a command.
pub type AnyError = Box<dyn std::error::Error + Send + Sync>;

fn progress_bar(what: &'static str) -> impl FnMut(usize, usize) {
    let mut bar: Option<ProgressBar> = None;
    move |done, total| {
        let b = bar.get_or_insert_with(|| {
            let b = ProgressBar::new(total as u64);
            if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})") {
                b.set_style(style.progress_chars("=> "));
            }
            b.set_message(what);
            b
        });
        b.set_position(done as u64);
        if done == total {
            b.finish();
        }
    }
}

fn read_json(file: &PathBuf) -> Result<serde_json::Value, AnyError> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?)
}

async fn run(command: Command, mut settings: Settings) -> Result<(), AnyError> {
    match command {
        Command::Serve { addr, demo: with_demo } => {
            if let Some(a) = addr {
                settings.server.addr = a;
            }
            if with_demo && !settings.tips.open311_api_keys.iter().any(|k| k == demo::DEMO_OPEN311_KEY) {
                settings.tips.open311_api_keys.push(demo::DEMO_OPEN311_KEY.to_owned());
            }
            let state = build_state(settings).await?;
            if with_demo {
                let report = demo::load(&state).await?;
                println!(
                    "Demo data: {} towns, {} cases, campaign 2017. Users (password `{}`): {}",
                    report.towns,
                    report.cases,
                    demo::PASSWORD,
                    report.users.join(", ")
                );
                println!("Open311 api_key: {}", demo::DEMO_OPEN311_KEY);
            }
            let app = Application::from_state(state)?;
            let host = app.state().settings.server.addr.ip();
            tracing::info!(url = %format!("http://{host}:{}/", app.port()), "landpatrol listening");
            let port = app.port();
            println!("landpatrol listening on http://{host}:{port}/ (API docs: http://{host}:{port}/docs/)");
            println!("Console (town offices, bureau, verifiers): http://{host}:{port}/console/");
            println!("Public tip page: http://{host}:{port}/report-a-problem/");
            if with_demo {
                println!(
                    "Sign in to the console as officer-120115001 (海滨街道), officer-120115006 (周良街道), admin (bureau) \
                     or verifier, password `{}`",
                    demo::PASSWORD
                );
            }
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            build_state(settings).await?;
            println!("migrations applied");
        }
        Command::Demo => {
            let state = build_state(settings).await?;
            let report = demo::load(&state).await?;
            println!(
                "demo data loaded: {} towns, {} cases, users: {}",
                report.towns,
                report.cases,
                report.users.join(", ")
            );
        }
        Command::Admin { command: AdminCommand::CreateUser { username, password, role, town, display_name } } => {
            let role = Role::parse(&role).ok_or("role must be inspector, town_officer, verifier or bureau_admin")?;
            let state = build_state(settings).await?;
            let user =
                create_user(&state.db, NewUser { username, password, role, town, patrol_towns: vec![], display_name })
                    .await?;
            println!("created user {} ({}) id {}", user.username, user.role, user.id);
        }
        Command::Import { command: ImportCommand::Towns { file } } => {
            let doc = read_json(&file)?;
            let state = build_state(settings).await?;
            let r = towns::service::import(&state.db, &state.towns, &doc, None, progress_bar("towns")).await?;
            println!("towns: {} created, {} updated, {} unchanged", r.created, r.updated, r.unchanged);
        }
        Command::Import { command: ImportCommand::Patches { file, source } } => {
            let source = CaseSource::parse(&source).ok_or("unknown source")?;
            let doc = read_json(&file)?;
            let state = build_state(settings).await?;
            let r = cases::import::import_patches(
                &state,
                &Actor::system("cli-import"),
                &doc,
                source,
                progress_bar("patches"),
            )
            .await?;
            println!("patches: {} created, {} already imported, {} unassigned", r.created, r.existing, r.unassigned);
        }
        Command::Openapi { out } => {
            std::fs::create_dir_all(&out)?;
            std::fs::write(out.join("openapi.json"), openapi::document())?;
            std::fs::write(out.join("errors.md"), openapi::errors_markdown())?;
            // The WatermelonDB guide's generated sections (its schema), when the guide is there.
            let guide = out.join("guides").join("watermelondb.md");
            if let Ok(text) = std::fs::read_to_string(&guide) {
                std::fs::write(&guide, crate::sync::watermelon::schema::guide(&text))?;
            }
            println!("wrote {}", out.display());
        }
    }
    Ok(())
}
