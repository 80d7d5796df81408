//! photo-bench: one 12-megapixel JPEG through `analyze` (hash, header, EXIF, both
//! thumbnails), single-threaded, against Pillow making the same two thumbnails with draft
//! (reduced-size DCT decoding), side by side in the same run, two ways:
//!
//! - Pillow-thumbnail: what a Python developer would write, and as fast as stock Pillow gets:
//!   `draft("RGB", (1024, 1024))`, `thumbnail((1024, 1024))` with its defaults (BICUBIC, the
//!   same Catmull-Rom cubic as ours, `reducing_gap=2.0`, so `reduce()` first where the factor
//!   allows), `ImageOps.exif_transpose`, and a copy thumbnailed to 256;
//! - Pillow-Lanczos: Pillow's sharpest filter (`resize(..., LANCZOS)` to 1024, then 256 from
//!   that), which we used until the build became Rust-only.
//!
//! ```sh
//! pip install -r photo/bench/requirements.txt
//! cargo run --release -p landpatrol-photo --bin photo-bench [-- --rounds 3 --iterations 10 --warmup 3]
//! ```
//!
//! The test image (the "Apple iPhone 5.jpg" fixture, 3264×2448 with EXIF/GPS and orientation
//! 3, scaled to 4032×3024 and saved as JPEG quality 90 with its EXIF) is made once with Pillow
//! into the system temp folder. Both sides run pinned to CPU 0 (`taskset -c 0`) when
//! `taskset` exists; each round runs Rust, then both Pillow variants (their order swapped
//! every other round), so that load from elsewhere hits all three.
//! Exits 1 when `analyze` is not at least [`GOAL`] times as fast as either Pillow variant, 2
//! when Pillow could not be measured.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: stop loudly on any setup error

/// How many times as fast as each Pillow variant `analyze` must be.
const GOAL: f64 = 1.4;

use std::io::{BufRead, BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use landpatrol_photo::{Exif, Limits, THUMBNAIL_SIZES, analyze, inspect, read_exif, thumbnails_timed};
use sha2::Digest;

const PINNED_ENV: &str = "PHOTO_BENCH_PINNED";

struct Args {
    rounds: usize,
    iterations: usize,
    warmup: usize,
    image: Option<PathBuf>,
}

fn parse_args() -> Args {
    let mut args = Args { rounds: 3, iterations: 10, warmup: 3, image: None };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--rounds" => args.rounds = value().parse().unwrap(),
            "--iterations" => args.iterations = value().parse().unwrap(),
            "--warmup" => args.warmup = value().parse().unwrap(),
            "--image" => args.image = Some(PathBuf::from(value())),
            other => panic!("unknown argument {other}; use --rounds N --iterations N --warmup N --image PATH"),
        }
    }
    args
}

/// Re-runs this program under `taskset -c 0` (once), so it and the Python it starts share
/// one pinned CPU.
fn pin_to_cpu0() -> bool {
    if std::env::var_os(PINNED_ENV).is_some() {
        return true;
    }
    let taskset = Command::new("taskset").args(["-c", "0", "true"]).status().is_ok_and(|s| s.success());
    if !taskset {
        eprintln!("taskset not found: running unpinned");
        return false;
    }
    let exe = std::env::current_exe().unwrap();
    let status = Command::new("taskset")
        .args(["-c", "0"])
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(PINNED_ENV, "1")
        .status()
        .unwrap();
    std::process::exit(status.code().unwrap_or(1));
}

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn python_script() -> PathBuf {
    crate_dir().join("bench").join("pillow_thumbs.py")
}

fn test_image(args: &Args) -> PathBuf {
    if let Some(path) = &args.image {
        return path.clone();
    }
    let dir = std::env::temp_dir().join("landpatrol-photo-bench");
    let path = dir.join("iphone5-4032x3024-q90.jpg");
    if !path.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        let source = crate_dir().join("tests/fixtures/drewnoakes__metadata-extractor-images/Apple iPhone 5.jpg");
        let tmp = dir.join("making.jpg");
        let status = Command::new("python3")
            .arg(python_script())
            .arg("make-image")
            .arg(&source)
            .arg(&tmp)
            .status()
            .expect("python3 is needed to make the test image (pip install -r photo/bench/requirements.txt)");
        assert!(status.success(), "making the test image failed");
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and 90th percentile (nearest rank) in milliseconds.
fn stats(samples: &[f64]) -> (f64, f64) {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 };
    let p90 = s[((n as f64 * 0.9).ceil() as usize).clamp(1, n) - 1];
    (median, p90)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// What one run of the Pillow script reported.
struct PillowRun {
    samples: Vec<f64>,
    info: String,
    steps: String,
}

/// The Pillow variants, as `pillow_thumbs.py bench VARIANT` names them, and as printed.
const VARIANTS: [(&str, &str); 2] = [
    ("lanczos", "Pillow-Lanczos (draft, resize LANCZOS 1024 then 256)"),
    ("thumbnail", "Pillow-thumbnail (draft, thumbnail() defaults: reduce + BICUBIC)"),
];

/// One Pillow variant's samples and reports over all rounds.
#[derive(Default)]
struct PillowSide {
    samples: Vec<f64>,
    info: String,
    steps: Vec<String>,
}

/// Runs one Pillow variant for `iterations` timed runs.
fn pillow(variant: &str, image: &Path, iterations: usize, warmup: usize) -> Result<PillowRun, String> {
    let mut child = Command::new("python3")
        .arg(python_script())
        .arg("bench")
        .arg(variant)
        .arg(image)
        .arg(iterations.to_string())
        .arg(warmup.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("python3: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut run = PillowRun { samples: Vec::new(), info: String::new(), steps: String::new() };
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(v) = line.strip_prefix("ms=") {
            run.samples.push(v.parse::<f64>().map_err(|e| e.to_string())?);
        } else if let Some(steps) = line.strip_prefix("step ") {
            run.steps = steps.to_owned();
        } else {
            run.info = line;
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() || run.samples.len() != iterations {
        return Err(format!("the Pillow script failed ({status}); pip install -r photo/bench/requirements.txt"));
    }
    Ok(run)
}

fn main() {
    let args = parse_args();
    let pinned = pin_to_cpu0();
    let limits = Limits::default();
    let path = test_image(&args);
    let bytes = std::fs::read(&path).unwrap();

    let check = analyze(&bytes, &limits).unwrap();
    let orientation = match &check.exif {
        Exif::Found(e) => e.orientation,
        _ => None,
    };
    let thumbs = check.thumbnails.as_ref().unwrap();
    let cpus = std::fs::read_to_string("/proc/cpuinfo")
        .map_or(0, |c| c.lines().filter(|l| l.starts_with("processor")).count());
    println!("machine: {}, {cpus} CPUs; {}", cpu_model(), {
        if pinned { "pinned to CPU 0 (taskset -c 0), single-threaded" } else { "not pinned, single-threaded" }
    });
    println!(
        "image: {} ({:.2} MB, {}x{}, EXIF orientation {:?}, GPS {:?})",
        path.display(),
        bytes.len() as f64 / 1e6,
        check.header.width.unwrap_or(0),
        check.header.height.unwrap_or(0),
        orientation,
        match &check.exif {
            Exif::Found(e) => e.gps.map(|g| (g.lat, g.lon)),
            _ => None,
        },
    );
    println!(
        "landpatrol thumbnails: {}",
        thumbs.iter().map(|t| format!("{}x{} ({} B)", t.width, t.height, t.jpeg.len())).collect::<Vec<_>>().join(", ")
    );

    let mut ours = Vec::new();
    let mut theirs: [PillowSide; 2] = Default::default();
    let mut pillow_error = None;
    for round in 0..args.rounds {
        for _ in 0..args.warmup {
            std::hint::black_box(analyze(&bytes, &limits).unwrap());
        }
        for _ in 0..args.iterations {
            let t = Instant::now();
            let a = analyze(std::hint::black_box(&bytes), &limits).unwrap();
            ours.push(ms(t.elapsed()));
            std::hint::black_box(a);
        }
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for v in order {
            if pillow_error.is_some() {
                break;
            }
            match pillow(VARIANTS[v].0, &path, args.iterations, args.warmup) {
                Ok(run) => {
                    let side = &mut theirs[v];
                    side.samples.extend(run.samples);
                    side.info = run.info;
                    side.steps.push(run.steps);
                }
                Err(e) => pillow_error = Some(e),
            }
        }
        eprintln!("round {} of {} done", round + 1, args.rounds);
    }

    // Where the time goes: each step alone, same number of runs.
    let n = args.rounds * args.iterations;
    let (mut hash, mut header, mut exif) = (Vec::new(), Vec::new(), Vec::new());
    let (mut decode, mut resize, mut orient, mut encode, mut thumbs_total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let t = Instant::now();
        std::hint::black_box(hex::encode(sha2::Sha256::digest(std::hint::black_box(&bytes))));
        hash.push(ms(t.elapsed()));
        let t = Instant::now();
        let h = inspect(&mut Cursor::new(&bytes), &limits).unwrap();
        header.push(ms(t.elapsed()));
        let t = Instant::now();
        std::hint::black_box(read_exif(&mut Cursor::new(&bytes), h.format));
        exif.push(ms(t.elapsed()));
        let t = Instant::now();
        let (result, timings) = thumbnails_timed(&bytes, h.format, orientation, &THUMBNAIL_SIZES, &limits);
        thumbs_total.push(ms(t.elapsed()));
        std::hint::black_box(result.unwrap());
        decode.push(ms(timings.decode));
        resize.push(ms(timings.resize));
        orient.push(ms(timings.orient));
        encode.push(ms(timings.encode));
    }

    let (our_median, our_p90) = stats(&ours);
    println!();
    println!("landpatrol analyze (hash + header + EXIF + 1024 and 256 thumbnails), {} runs:", ours.len());
    println!("  median {our_median:.1} ms, p90 {our_p90:.1} ms");
    println!("  breakdown (medians of each step alone):");
    for (name, samples) in [
        ("sha256", &hash),
        ("header (inspect)", &header),
        ("EXIF", &exif),
        ("thumbnails, of which:", &thumbs_total),
        ("  decode (DCT-scaled)", &decode),
        ("  resize (Catmull-Rom)", &resize),
        ("  orient", &orient),
        ("  encode (q82 4:2:0)", &encode),
    ] {
        println!("    {name:<22} {:7.2} ms", stats(samples).0);
    }
    println!();
    if let Some(e) = pillow_error {
        println!("Pillow: not measured: {e}");
        std::process::exit(2);
    }
    let mut ratios = Vec::new();
    for ((_, label), side) in VARIANTS.iter().zip(&theirs) {
        let (their_median, their_p90) = stats(&side.samples);
        println!("{label}, {}, {} runs:", side.info, side.samples.len());
        println!("  median {their_median:.1} ms, p90 {their_p90:.1} ms");
        println!("  breakdown (medians per round, separate instrumented runs):");
        for steps in &side.steps {
            println!("    {steps}");
        }
        println!();
        ratios.push((label.split(' ').next().unwrap_or(label), their_median, their_median / our_median));
    }
    println!("landpatrol analyze: median {our_median:.1} ms");
    for (name, their_median, ratio) in &ratios {
        println!("{name}: median {their_median:.1} ms; ratio {name} / landpatrol = {ratio:.2}");
    }
    // The goal (issue 14): at least 1.4x as fast as Pillow with draft, both ways.
    let mut failed = false;
    for (name, _, ratio) in &ratios {
        if *ratio >= GOAL {
            println!("PASS: analyze is {ratio:.2}x as fast as {name} (goal {GOAL}x)");
        } else {
            println!("FAIL: analyze is {ratio:.2}x as fast as {name}, below the goal of {GOAL}x");
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
}
