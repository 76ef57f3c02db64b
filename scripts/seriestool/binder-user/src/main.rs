// SPDX-License-Identifier: GPL-2.0
//! binder-user: existing binder user space on a binder device.

use rsbinder::*;
use std::io::{Read, Seek, Write};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const NAME: &str = "series.echo";

#[interface(descriptor = "series.binderuser.ISink")]
pub trait ISink {
    fn twice(&self, v: i32) -> BinderResult<i32>;
}

#[interface(descriptor = "series.binderuser.IEcho")]
pub trait IEcho {
    fn echo(&self, msg: &str) -> BinderResult<String>;
    fn bytes(&self, data: &[u8]) -> BinderResult<Vec<u8>>;
    fn read_fd(&self, fd: &ParcelFileDescriptor) -> BinderResult<String>;
    fn call_back(&self, sink: &Strong<dyn ISink>, v: i32) -> BinderResult<i32>;
    fn give_back(&self, sink: &Strong<dyn ISink>) -> BinderResult<Strong<dyn ISink>>;
    #[oneway]
    fn post(&self, v: i32) -> BinderResult<()>;
    fn posted(&self) -> BinderResult<i32>;
    fn pid(&self) -> BinderResult<i32>;
}

struct Echo {
    posted: Mutex<i32>,
}

impl Interface for Echo {}

impl IEcho for Echo {
    fn echo(&self, msg: &str) -> BinderResult<String> {
        Ok(msg.to_owned())
    }
    fn bytes(&self, data: &[u8]) -> BinderResult<Vec<u8>> {
        Ok(data.iter().rev().copied().collect())
    }
    fn read_fd(&self, fd: &ParcelFileDescriptor) -> BinderResult<String> {
        let mut s = String::new();
        let mut f = fd;
        f.read_to_string(&mut s).map_err(|_| StatusCode::BadValue)?;
        Ok(s)
    }
    fn call_back(&self, sink: &Strong<dyn ISink>, v: i32) -> BinderResult<i32> {
        Ok(sink.twice(v)? + 1)
    }
    fn give_back(&self, sink: &Strong<dyn ISink>) -> BinderResult<Strong<dyn ISink>> {
        Ok(sink.clone())
    }
    fn post(&self, v: i32) -> BinderResult<()> {
        *self.posted.lock().unwrap() += v;
        Ok(())
    }
    fn posted(&self) -> BinderResult<i32> {
        Ok(*self.posted.lock().unwrap())
    }
    fn pid(&self) -> BinderResult<i32> {
        Ok(std::process::id() as i32)
    }
}

struct Sink;
impl Interface for Sink {}
impl ISink for Sink {
    fn twice(&self, v: i32) -> BinderResult<i32> {
        Ok(2 * v)
    }
}

struct Death(mpsc::Sender<()>);
impl DeathRecipient for Death {
    fn binder_died(&self, _who: &WIBinder) {
        let _ = self.0.send(());
    }
}

/// Calls `f` every 10 ms until it gives `Ok`; fails after 30 s with the
/// last `Err`, which says what `f` saw.
fn until<T>(what: &str, mut f: impl FnMut() -> std::result::Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match f() {
            Ok(v) => return v,
            Err(seen) if start.elapsed() > Duration::from_secs(30) => {
                fail(&format!("{what}: not within 30 s ({seen})"))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("binder-user: FAIL: {msg}");
    std::process::exit(1);
}

/// When the client started, for the times `check` prints.
static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn check(ok: bool, what: &str) {
    if !ok {
        fail(what);
    }
    passed(what);
}

/// Reports `what` as passed, with the time since the client started.
fn passed(what: &str) {
    let ms = START.get().map_or(0, |t| t.elapsed().as_millis());
    println!("binder-user: ok {what} ({ms} ms)");
}

fn service() -> ! {
    let echo = BnEcho::new_binder(Echo {
        posted: Mutex::new(0),
    });
    hub::add_service(NAME, echo.as_binder())
        .unwrap_or_else(|e| fail(&format!("add_service: {e:?}")));
    println!("binder-user: service {NAME} added");
    ProcessState::join_thread_pool().unwrap_or_else(|e| fail(&format!("join_thread_pool: {e:?}")));
    fail("join_thread_pool returned");
}

fn client() {
    START.get_or_init(Instant::now);
    ProcessState::start_thread_pool();
    let echo: Strong<dyn IEcho> = hub::wait_for_interface(NAME)
        .unwrap_or_else(|e| fail(&format!("wait_for_interface: {e:?}")));
    check(
        hub::list_services(hub::DUMP_FLAG_PRIORITY_ALL)
            .iter()
            .any(|s| s == NAME),
        "list_services names the service",
    );
    check(
        echo.echo("hello binder").ok().as_deref() == Some("hello binder"),
        "echo a string",
    );
    for size in [0usize, 64, 1024, 16384, 131072] {
        let data: Vec<u8> = (0..size).map(|i| (i * 7 + 3) as u8).collect();
        let want: Vec<u8> = data.iter().rev().copied().collect();
        check(
            echo.bytes(&data).ok() == Some(want),
            &format!("bytes of {size}"),
        );
    }
    let path = format!("/tmp/binder-user-{}", std::process::id());
    let mut file = std::fs::File::options()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| fail(&format!("{path}: {e}")));
    file.write_all(b"through a descriptor").unwrap();
    file.rewind().unwrap();
    let _ = std::fs::remove_file(&path);
    check(
        echo.read_fd(&ParcelFileDescriptor::new(file))
            .ok()
            .as_deref()
            == Some("through a descriptor"),
        "pass a file descriptor",
    );
    let sink = BnSink::new_binder(Sink);
    check(
        echo.call_back(&sink, 20).ok() == Some(41),
        "nested call back into the caller",
    );
    let back = echo
        .give_back(&sink)
        .unwrap_or_else(|e| fail(&format!("give_back: {e:?}")));
    check(
        back.as_binder() == sink.as_binder() && back.as_binder().as_proxy().is_none(),
        "own binder comes back as the local object",
    );
    let n = 1000;
    for i in 1..=n {
        echo.post(i)
            .unwrap_or_else(|e| fail(&format!("post: {e:?}")));
    }
    let want = n * (n + 1) / 2;
    until("oneway posts arrive", || match echo.posted() {
        Ok(sum) if sum == want => Ok(()),
        got => Err(format!("the service's sum is {got:?} of {want}")),
    });
    passed("1000 oneway calls arrive");
    let pid = echo.pid().unwrap_or_else(|e| fail(&format!("pid: {e:?}")));
    let (tx, rx) = mpsc::channel();
    let recipient: Arc<dyn DeathRecipient> = Arc::new(Death(tx));
    echo.as_binder()
        .link_to_death(Arc::downgrade(&recipient))
        .unwrap_or_else(|e| fail(&format!("link_to_death: {e:?}")));
    let status = std::process::Command::new("kill")
        .arg("-9")
        .arg(pid.to_string())
        .status();
    check(
        status.map(|s| s.success()).unwrap_or(false),
        "kill the service",
    );
    check(
        rx.recv_timeout(Duration::from_secs(30)).is_ok(),
        "death notification for the killed service",
    );
    check(
        echo.echo("x").err() == Some(StatusCode::DeadObject.into()),
        "a call to the dead service fails DeadObject",
    );
    until(
        "the service manager drops the dead service",
        || match hub::check_service(NAME) {
            None => Ok(()),
            Some(_) => Err("the service manager still has it".into()),
        },
    );
    passed("service manager drops the dead service");
    drop(recipient);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        fail("usage: binder-user ready|service|client DEVICE");
    }
    ProcessState::init(&args[2], 4).unwrap_or_else(|e| fail(&format!("open {}: {e}", args[2])));
    // rsbinder's own warnings and errors (a thread leaving the pool, say);
    // not while `ready` asks for a service manager that may not run yet.
    if args[1] != "ready" {
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    }
    match args[1].as_str() {
        // Exits 0 once a context manager answers a service manager call.
        "ready" => std::process::exit(match hub::default() {
            Ok(sm) if sm.try_list_services(hub::DUMP_FLAG_PRIORITY_ALL).is_ok() => 0,
            _ => 1,
        }),
        "service" => service(),
        "client" => client(),
        _ => fail("usage: binder-user ready|service|client DEVICE"),
    }
}
