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
    /// Patches (satellite leads by default): a GeoJSON file (`.geojson`, `.json`) of
    /// polygons with a `patch_id` property, or an ESRI shapefile as the ministry
    /// delivers it: a `.zip`, or a `.shp` with its `.dbf` (and `.shx`, `.prj`, `.cpg`)
    /// beside it. All or nothing; patches already imported are left unchanged.
    Patches {
        file: PathBuf,
        #[arg(long, default_value = "satellite")]
        source: String,
        /// A shapefile's coordinate system, `EPSG:NNNN`, over its `.prj` (e.g. EPSG:4527,
        /// CGCS2000 3-degree Gauss-Krüger zone 39; EPSG:4490, lon/lat).
        #[arg(long)]
        crs: Option<String>,
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

/// A patch file: GeoJSON, a zipped shapefile, or a `.shp` with its sibling files
/// (found by extension in any case). A shapefile's refused rows are printed, one a
/// line, before the error.
fn read_patch_file(
    file: &std::path::Path,
    crs: Option<&landpatrol_patchfile::Crs>,
) -> Result<(serde_json::Value, Option<cases::types::PatchFileInfo>), AnyError> {
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let result = match ext.as_str() {
        "zip" => cases::import::read_zip(&read(file)?, crs),
        "shp" => {
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("").to_owned();
            let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            let sibling = |want: &str| -> Result<Option<Vec<u8>>, AnyError> {
                for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
                    let p = entry?.path();
                    let same_stem =
                        p.file_stem().and_then(|s| s.to_str()).is_some_and(|s| s.eq_ignore_ascii_case(&stem));
                    let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
                    if same_stem && ext.eq_ignore_ascii_case(want) {
                        return Ok(Some(read(&p)?));
                    }
                }
                Ok(None)
            };
            let set = landpatrol_patchfile::ShapefileSet::from_files(
                stem.clone(),
                read(file)?,
                sibling("shx")?,
                sibling("dbf")?,
                sibling("prj")?,
                sibling("cpg")?,
            )
            .map_err(|e| format!("{}: {e}", file.display()))?;
            cases::import::read_shapefile(&set, crs)
        }
        _ => return Ok((read_json(&file.to_path_buf())?, None)),
    };
    match result {
        Ok((doc, info)) => Ok((doc, Some(info))),
        Err(e) => {
            if let Some(rows) = e.details.get("rows").and_then(|r| r.as_array()) {
                for r in rows {
                    println!(
                        "row {}: {}: refused: {}",
                        r["row"],
                        r["patch_id"].as_str().unwrap_or("-"),
                        r["reason"].as_str().unwrap_or("")
                    );
                }
            }
            Err(format!("{}: {e}", file.display()).into())
        }
    }
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
        Command::Import { command: ImportCommand::Patches { file, source, crs } } => {
            let source = CaseSource::parse(&source).ok_or("unknown source")?;
            let crs =
                crs.map(|c| landpatrol_patchfile::Crs::from_epsg(&c)).transpose().map_err(|e| format!("--crs: {e}"))?;
            let (doc, info) = read_patch_file(&file, crs.as_ref())?;
            if let Some(info) = &info {
                println!("{}: {}; text {}", info.name, info.crs, info.encoding);
                for note in &info.notes {
                    println!("note: {note}");
                }
            }
            let state = build_state(settings).await?;
            let r = cases::import::import_patches(
                &state,
                &Actor::system("cli-import"),
                &doc,
                source,
                progress_bar("patches"),
            )
            .await?;
            for c in &r.cases {
                let row = c.row.map(|r| format!("row {r}: ")).unwrap_or_default();
                let what = match (c.created, &c.town_code) {
                    (true, Some(t)) => format!("created {} in town {t}", c.case_number),
                    (true, None) => format!("created {}, unassigned (in no town)", c.case_number),
                    (false, _) => format!("already imported as {}", c.case_number),
                };
                let area = match (c.area_m2, c.reported_area) {
                    (Some(a), Some(r)) => format!(", {a:.0} m² (the file says {r})"),
                    (Some(a), None) => format!(", {a:.0} m²"),
                    _ => String::new(),
                };
                println!("{row}{}: {what}{area}", c.external_ref);
            }
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
