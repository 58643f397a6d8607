//! Getting a real Postgres: from `DATABASE_URL`, a throwaway local cluster, or a container.
//!
//! One module serves the tests, the benches and the binary. [`Postgres::provision`]
//! tries, in order:
//!
//! 1. `DATABASE_URL`, if set: an existing server (nothing is started or stopped;
//!    leasecheck only ever creates and drops its own schemas there);
//! 2. a throwaway cluster from the local server binaries (`initdb` and
//!    `postgres`, found in `LEASECHECK_PG_BINDIR`, `/usr/lib/postgresql/*/bin`
//!    or `PATH`): a temp dir, a free loopback port, run as `nobody` when this
//!    process is root, stopped and removed when the [`Postgres`] is dropped,
//!    including during a panic;
//! 3. a container of `LEASECHECK_PG_IMAGE` (default `leasecheck-postgres:15`,
//!    built by `scripts/build-postgres-image.sh`) through testcontainers.
//!
//! `LEASECHECK_POSTGRES=url|local|container` forces one source. When none can
//! be had, the error says what each attempt ran into: a test never skips.

use super::cluster::LocalCluster;
use super::diagnostic::{pg_message, redact};
use super::Client;
use std::fmt;
use std::time::Duration;

/// Environment variable naming an existing server.
pub const DATABASE_URL_ENV: &str = "DATABASE_URL";
/// Environment variable forcing one source: `url`, `local` or `container`.
pub const SOURCE_ENV: &str = "LEASECHECK_POSTGRES";
/// Environment variable naming the container image.
pub const IMAGE_ENV: &str = "LEASECHECK_PG_IMAGE";
/// The image `scripts/build-postgres-image.sh` builds.
pub const DEFAULT_IMAGE: &str = "leasecheck-postgres:15";

#[cfg(feature = "containers")]
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Why no Postgres could be had.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// `DATABASE_URL` is set but does not parse or does not answer.
    #[error("cannot use the server at {target} ({DATABASE_URL_ENV} or --database-url): {}", pg_message(.source))]
    Url {
        /// The server, password masked.
        target: String,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// A local cluster could not be started.
    #[error("cannot start a throwaway Postgres cluster: {0}")]
    Local(String),
    /// A container could not be started.
    #[error("cannot start a Postgres container from image {image}: {reason}")]
    Container {
        /// The image.
        image: String,
        /// What went wrong.
        reason: String,
    },
    /// `LEASECHECK_POSTGRES` has an unknown value.
    #[error("{SOURCE_ENV}={0:?} is not one of url, local, container, auto")]
    BadSource(String),
    /// Every source failed.
    #[error(
        "no Postgres available. Tried:\n  - {DATABASE_URL_ENV}: not set\n  - local binaries: {local}\n  - container: {container}\n\
         Set {DATABASE_URL_ENV}, install the server (`apt-get install postgresql`), or build the image with scripts/build-postgres-image.sh"
    )]
    Nothing {
        /// Why the local cluster failed.
        local: String,
        /// Why the container failed.
        container: String,
    },
}

/// Where a [`Postgres`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// An existing server named by `DATABASE_URL`.
    Url,
    /// A throwaway cluster from the local binaries.
    Local,
    /// A container started through testcontainers.
    Container,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Url => "DATABASE_URL / --database-url",
            Source::Local => "throwaway local cluster",
            Source::Container => "container",
        })
    }
}

enum Backend {
    External,
    Local(LocalCluster),
    #[cfg(feature = "containers")]
    /// The container, then its watch (field order is drop order: removed,
    /// then forgotten by the watchdog).
    Container(
        Box<testcontainers::Container<testcontainers::GenericImage>>,
        crate::process::watchdog::WatchedContainer,
    ),
}

/// A reachable Postgres server, stopped on drop if leasecheck started it.
pub struct Postgres {
    url: String,
    backend: Backend,
}

impl Postgres {
    /// A Postgres from the first source that works (see the module docs).
    ///
    /// ```no_run
    /// let pg = leasecheck::Postgres::provision()?;
    /// let mut client = pg.connect()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn provision() -> Result<Postgres, ProvisionError> {
        let forced = std::env::var(SOURCE_ENV).unwrap_or_default();
        match forced.as_str() {
            "url" => {
                let url = std::env::var(DATABASE_URL_ENV).map_err(|_| {
                    ProvisionError::Local(format!(
                        "{SOURCE_ENV}=url but {DATABASE_URL_ENV} is not set"
                    ))
                })?;
                Postgres::from_url(&url)
            }
            "local" => Postgres::start_local(),
            "container" => Postgres::start_container(&image_from_env()),
            "" | "auto" => {
                if let Ok(url) = std::env::var(DATABASE_URL_ENV) {
                    return Postgres::from_url(&url);
                }
                let local = match Postgres::start_local() {
                    Ok(pg) => return Ok(pg),
                    Err(e) => e.to_string(),
                };
                let container = match Postgres::start_container(&image_from_env()) {
                    Ok(pg) => return Ok(pg),
                    Err(e) => e.to_string(),
                };
                Err(ProvisionError::Nothing { local, container })
            }
            other => Err(ProvisionError::BadSource(other.to_string())),
        }
    }

    /// An existing server; checks that it answers.
    ///
    /// ```no_run
    /// let pg = leasecheck::Postgres::from_url("postgres://postgres@127.0.0.1/postgres")?;
    /// # Ok::<(), leasecheck::ProvisionError>(())
    /// ```
    pub fn from_url(url: &str) -> Result<Postgres, ProvisionError> {
        let err = |source| ProvisionError::Url {
            target: redact(url),
            source,
        };
        let config: postgres::Config = url.parse().map_err(err)?;
        let mut config = config;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let mut client = Client::connect(&config).map_err(err)?;
        client.simple_query("SELECT 1").map_err(err)?;
        Ok(Postgres {
            url: url.to_string(),
            backend: Backend::External,
        })
    }

    /// A throwaway cluster from the local server binaries.
    ///
    /// ```no_run
    /// let pg = leasecheck::Postgres::start_local()?;
    /// # Ok::<(), leasecheck::ProvisionError>(())
    /// ```
    pub fn start_local() -> Result<Postgres, ProvisionError> {
        let cluster = LocalCluster::start().map_err(ProvisionError::Local)?;
        Ok(Postgres {
            url: cluster.url(),
            backend: Backend::Local(cluster),
        })
    }

    /// Built without the `containers` feature: always an error saying so.
    #[cfg(not(feature = "containers"))]
    pub fn start_container(image: &str) -> Result<Postgres, ProvisionError> {
        Err(ProvisionError::Container {
            image: image.to_string(),
            reason: "this leasecheck was built without the `containers` feature".into(),
        })
    }

    /// A container of `image` (`name:tag`), which must exist locally.
    ///
    /// ```no_run
    /// let pg = leasecheck::Postgres::start_container(leasecheck::database::DEFAULT_IMAGE)?;
    /// # Ok::<(), leasecheck::ProvisionError>(())
    /// ```
    #[cfg(feature = "containers")]
    pub fn start_container(image: &str) -> Result<Postgres, ProvisionError> {
        use super::cluster::wait_until_ready;
        use testcontainers::core::{IntoContainerPort, WaitFor};
        use testcontainers::runners::SyncRunner;
        use testcontainers::ImageExt;
        let fail = |reason: String| ProvisionError::Container {
            image: image.to_string(),
            reason,
        };
        let (name, tag) = image.rsplit_once(':').unwrap_or((image, "latest"));
        let container = testcontainers::GenericImage::new(name, tag)
            .with_exposed_port(5432.tcp())
            .with_wait_for(WaitFor::message_on_stderr(
                "database system is ready to accept connections",
            ))
            .with_startup_timeout(START_TIMEOUT)
            .start()
            .map_err(|e| {
                fail(format!(
                    "{e} (is Docker running, and was the image built with scripts/build-postgres-image.sh?)"
                ))
            })?;
        let watch = crate::process::watchdog::WatchedContainer::new(container.id());
        let port = container
            .get_host_port_ipv4(5432)
            .map_err(|e| fail(e.to_string()))?;
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres?connect_timeout=10");
        // The ready line comes before the port forward always works; retry briefly.
        let config: postgres::Config = url
            .parse()
            .map_err(|e| fail(format!("the container's URL does not parse: {e}")))?;
        wait_until_ready(&config, || Ok(())).map_err(fail)?;
        Ok(Postgres {
            url,
            backend: Backend::Container(Box::new(container), watch),
        })
    }

    /// The connection URL (`postgres://...`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The connection settings, parsed (every `Postgres` has a URL that
    /// parses: it was checked, or written by leasecheck).
    pub fn config(&self) -> postgres::Config {
        match self.url.parse() {
            Ok(config) => config,
            Err(e) => unreachable!("the URL of a provisioned Postgres parses: {e}"),
        }
    }

    /// `host:port/db`, without any password.
    pub fn target(&self) -> String {
        redact(&self.url)
    }

    /// Where this server came from.
    pub fn source(&self) -> Source {
        match self.backend {
            Backend::External => Source::Url,
            Backend::Local(_) => Source::Local,
            #[cfg(feature = "containers")]
            Backend::Container(..) => Source::Container,
        }
    }

    /// The data directory's process id of the postmaster, where leasecheck runs
    /// the cluster itself (needed to stop backends with signals).
    pub fn postmaster_pid(&self) -> Option<u32> {
        match &self.backend {
            Backend::Local(c) => Some(c.pid()),
            _ => None,
        }
    }

    /// The throwaway cluster leasecheck runs, or why this server is not one
    /// (the crash and failover faults need one).
    pub(crate) fn local_cluster(&self) -> Result<&LocalCluster, String> {
        match &self.backend {
            Backend::Local(c) => Ok(c),
            #[cfg(feature = "containers")]
            Backend::Container(..) => Err(format!(
                "the server at {} runs in a container: leasecheck crashes, restarts and \
                 replicates only a cluster it runs from the local server binaries \
                 (LEASECHECK_POSTGRES=local)",
                self.target()
            )),
            Backend::External => Err(format!(
                "the server at {} comes from {}: leasecheck does not run it, so it never \
                 crashes, restarts or replicates it; use LEASECHECK_POSTGRES=local",
                self.target(),
                self.source()
            )),
        }
    }

    /// Reap the postmaster of the server leasecheck runs after it was
    /// killed (the `crash-restart` fault kills it);
    /// [`Postgres::start_after_crash`] brings it back.
    pub fn reap_crashed(&self) -> Result<(), String> {
        self.local_cluster()?.reap()
    }

    /// Start the server again after a crash, on the same data
    /// directory and port (crash recovery runs); returns how long it took
    /// until the server answered.
    pub fn start_after_crash(&self) -> Result<Duration, String> {
        self.local_cluster()?.start_again()
    }

    /// The container id, where the server runs in a container.
    pub fn container_id(&self) -> Option<&str> {
        match &self.backend {
            #[cfg(feature = "containers")]
            Backend::Container(c, _) => Some(c.id()),
            _ => None,
        }
    }

    /// A new connection.
    ///
    /// ```no_run
    /// # let pg = leasecheck::Postgres::provision()?;
    /// let mut client = pg.connect()?;
    /// client.simple_query("SELECT 1")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(&self) -> Result<Client, postgres::Error> {
        Client::connect(&self.config())
    }

    /// Stop the server if leasecheck started it, reporting a failure to stop.
    /// Dropping does the same but can only log.
    ///
    /// ```no_run
    /// let pg = leasecheck::Postgres::provision()?;
    /// pg.stop()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop(mut self) -> Result<(), ProvisionError> {
        match std::mem::replace(&mut self.backend, Backend::External) {
            Backend::External => Ok(()),
            Backend::Local(mut cluster) => cluster.stop().map_err(ProvisionError::Local),
            #[cfg(feature = "containers")]
            Backend::Container(container, _watch) => {
                use testcontainers::Image;
                let image = format!("{}:{}", container.image().name(), container.image().tag());
                container.rm().map_err(|e| ProvisionError::Container {
                    image,
                    reason: e.to_string(),
                })
            }
        }
    }
}

impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Postgres")
            .field("target", &self.target())
            .field("source", &self.source())
            .finish()
    }
}

fn image_from_env() -> String {
    std::env::var(IMAGE_ENV).unwrap_or_else(|_| DEFAULT_IMAGE.to_string())
}

/// A connection URL with any password masked (`host:port/db`), for reports.
///
/// ```
/// let shown = leasecheck::database::redact_url("postgres://u:secret@db:5433/app");
/// assert!(!shown.contains("secret"));
/// ```
pub fn redact_url(url: &str) -> String {
    redact(url)
}
