//! The server thread: a current-thread runtime, the accept loop, and one
//! task per connection running that connection's script.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;

use super::conn::Conn;
use super::state::Shared;
use super::step::Step;
use super::tls::Io;
use super::BUF_CAP;

/// A script ready to run: fixtures loaded, step descriptions kept for messages.
pub(super) struct Script {
    pub(super) steps: Vec<Step>,
    pub(super) descriptions: Vec<String>,
}

impl Script {
    pub(super) fn prepare(steps: Vec<Step>) -> Script {
        let descriptions = steps.iter().map(|s| format!("{s:?}")).collect();
        let steps = steps
            .into_iter()
            .map(|step| match step {
                Step::Fixture(path) => Step::Send(super::super::fixture(path)),
                Step::SendForever(chunk) if chunk.is_empty() => {
                    panic!("fake server: SendForever needs a non-empty chunk")
                }
                other => other,
            })
            .collect();
        Script {
            steps,
            descriptions,
        }
    }
}

/// The server thread: a current-thread runtime accepting until shutdown.
pub(super) fn serve(
    listener: std::net::TcpListener,
    scripts: Vec<Script>,
    shared: Arc<Shared>,
    shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("fake server: tokio runtime");
    runtime.block_on(accept_loop(listener, scripts, shared, shutdown));
    // Dropping the runtime drops (and so closes) every open connection.
    drop(runtime);
}

pub(super) async fn accept_loop(
    listener: std::net::TcpListener,
    scripts: Vec<Script>,
    shared: Arc<Shared>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let listener =
        tokio::net::TcpListener::from_std(listener).expect("fake server: tokio listener");
    let mut scripts = scripts.into_iter();
    let mut next = 0usize;
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                shared.lock().notes.push(format!("accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let idx = next;
        next += 1;
        let script = scripts.next();
        {
            let mut state = shared.lock();
            state.accepted += 1;
            if script.is_none() {
                state.unexpected += 1;
            }
        }
        shared.changed.notify_all();
        match script {
            Some(script) => spawn_connection(idx, stream, script, Arc::clone(&shared)),
            None => drop(stream),
        }
    }
}

/// Run one script on its own task; a panic in it becomes a recorded failure.
pub(super) fn spawn_connection(idx: usize, stream: TcpStream, script: Script, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let task = tokio::spawn(run_connection(idx, stream, script, Arc::clone(&shared)));
    tokio::spawn(async move {
        if let Err(e) = task.await {
            let mut state = shared.lock();
            state
                .failures
                .push(format!("connection #{idx}: script task died: {e}"));
            state.done[idx] = true;
            drop(state);
            shared.changed.notify_all();
        }
    });
}

pub(super) async fn run_connection(
    idx: usize,
    stream: TcpStream,
    script: Script,
    shared: Arc<Shared>,
) {
    let mut conn = Conn {
        idx,
        io: Io::Plain(stream),
        buf: Vec::with_capacity(BUF_CAP),
        peer_gone: false,
        tls: false,
        tag: None,
        starttls_pending: false,
        starttls_refused: false,
        shared: Arc::clone(&shared),
    };
    let result = conn.run(script).await;
    conn.flush_buffer();
    drop(conn);
    let mut state = shared.lock();
    if let Err(failure) = result {
        state.failures.push(failure);
    }
    state.progress[idx] = "ended".to_string();
    state.done[idx] = true;
    drop(state);
    shared.changed.notify_all();
}
