//! Pure parsers and bounded readers for `/proc`, shared by the process,
//! port and later probes. A process that vanishes mid-read is normal and
//! simply skipped, never an error.
//!
//! The parsers (`parse_*`) take text and do no I/O; they are tested on
//! fixtures copied from a real kernel. The readers do the I/O and are
//! bounded, because this code runs on sick boxes: at most [`MAX_PIDS`]
//! processes and [`MAX_FDS_PER_PROCESS`] descriptors per process are looked
//! at, and a command line is read up to [`MAX_CMDLINE_BYTES`].

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// At most this many processes are looked at in one scan of `/proc`. A
/// box with more has bigger problems; the scan says it was cut short.
pub const MAX_PIDS: usize = 100_000;

/// At most this many entries of one process's `/proc/PID/fd` are read.
pub const MAX_FDS_PER_PROCESS: usize = 100_000;

/// At most this many bytes of `/proc/PID/cmdline` are read (matching needs
/// the command line, reports keep only its first 256 characters).
pub const MAX_CMDLINE_BYTES: u64 = 128 * 1024;

/// `PF_KTHREAD` in the `flags` field of `/proc/PID/stat`: a kernel thread.
pub const PF_KTHREAD: u64 = 0x0020_0000;

/// The TCP state `LISTEN` in `/proc/net/tcp` (`st` column `0A`).
pub const TCP_LISTEN: u8 = 0x0A;

/// The root of the proc filesystem.
const PROC: &str = "/proc";

/// The fields of `/proc/PID/stat` the probes use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub pid: u32,
    /// `comm`: the name, at most 15 bytes, may contain spaces and `)`.
    pub comm: String,
    /// The state letter: `R`, `S`, `D`, `Z`, `T`, `t`, `X`, `I`, ...
    pub state: char,
    pub ppid: u32,
    /// The kernel's `PF_*` flags; see [`PF_KTHREAD`].
    pub flags: u64,
    pub num_threads: u64,
    /// When the process started, in clock ticks since boot.
    pub starttime_ticks: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
}

impl Stat {
    /// Whether this is a kernel thread.
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }

    /// Whether this is a zombie: dead, waiting for its parent to reap it.
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }
}

/// Parse `/proc/PID/stat`. `comm` sits in parentheses and may itself hold
/// spaces and `)`, so the fields start after the *last* `)`.
pub fn parse_stat(s: &str) -> Option<Stat> {
    let s = s.trim_end();
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    if close < open {
        return None;
    }
    let pid = s[..open].trim().parse().ok()?;
    let comm = s[open + 1..close].to_string();
    let fields: Vec<&str> = s[close + 1..].split_ascii_whitespace().collect();
    // Indices below count from the state, field 3 in proc(5).
    let num = |i: usize| -> Option<u64> { fields.get(i)?.parse().ok() };
    let mut state_chars = fields.first()?.chars();
    let state = state_chars.next()?;
    if state_chars.next().is_some() {
        return None;
    }
    Some(Stat {
        pid,
        comm,
        state,
        ppid: u32::try_from(num(1)?).ok()?,
        flags: num(6)?,
        num_threads: num(17)?,
        starttime_ticks: num(19)?,
        // rss can be reported as a negative number transiently; treat as 0.
        rss_pages: fields.get(21)?.parse::<i64>().ok()?.max(0).unsigned_abs(),
    })
}

/// The soft limit of "Max open files" from `/proc/PID/limits`; `None` when
/// unlimited or absent.
pub fn parse_limits_nofile(s: &str) -> Option<u64> {
    let line = s.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..]
        .split_ascii_whitespace()
        .next()?;
    soft.parse().ok()
}

/// The boot time (`btime`, seconds since the epoch) from `/proc/stat`.
pub fn parse_btime(s: &str) -> Option<u64> {
    s.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// Seconds since boot, the first figure of `/proc/uptime`.
pub fn parse_uptime(s: &str) -> Option<f64> {
    s.split_ascii_whitespace()
        .next()?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
}

/// A command line from `/proc/PID/cmdline`: NUL-separated arguments. A
/// process that rewrote its title may have one argument holding spaces.
pub fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    // Arguments end in NUL; a rewritten title may be padded with more.
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    if end == 0 {
        return Vec::new();
    }
    bytes[..end]
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// One socket line of `/proc/net/tcp` or `/proc/net/tcp6`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSocket {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The TCP state; [`TCP_LISTEN`] for a listener.
    pub state: u8,
    /// `tx_queue`: bytes not yet acknowledged (0 for listeners).
    pub tx_queue: u32,
    /// `rx_queue`: bytes not yet read; for a listener, connections waiting
    /// to be accepted.
    pub rx_queue: u32,
    pub uid: u32,
    /// The socket's inode, as in the `socket:[N]` links of `/proc/PID/fd`;
    /// 0 for sockets no process holds (`TIME_WAIT`, not yet accepted).
    pub inode: u64,
}

impl RawSocket {
    /// Whether the socket is listening.
    pub fn is_listening(&self) -> bool {
        self.state == TCP_LISTEN
    }
}

/// Parse `/proc/net/tcp` or `/proc/net/tcp6` (the family is taken from the
/// address width). Malformed lines are skipped.
pub fn parse_proc_net_tcp(s: &str) -> Vec<RawSocket> {
    s.lines().skip(1).filter_map(parse_tcp_line).collect()
}

fn parse_tcp_line(line: &str) -> Option<RawSocket> {
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    let f: Vec<&str> = line.split_ascii_whitespace().collect();
    if f.len() < 10 {
        return None;
    }
    let (tx, rx) = f[4].split_once(':')?;
    Some(RawSocket {
        local: parse_hex_sockaddr(f[1])?,
        remote: parse_hex_sockaddr(f[2])?,
        state: u8::from_str_radix(f[3], 16).ok()?,
        tx_queue: u32::from_str_radix(tx, 16).ok()?,
        rx_queue: u32::from_str_radix(rx, 16).ok()?,
        uid: f[7].parse().ok()?,
        inode: f[9].parse().ok()?,
    })
}

/// `0100007F:1F90` → 127.0.0.1:8080. The address is the kernel's
/// network-order bytes printed as 32-bit words in host (little-endian)
/// order; the port is plain big-endian hex.
fn parse_hex_sockaddr(s: &str) -> Option<SocketAddr> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(hex_word(addr)?.to_le_bytes())),
        32 => {
            let mut octets = [0u8; 16];
            for (i, chunk) in octets.chunks_exact_mut(4).enumerate() {
                chunk.copy_from_slice(&hex_word(addr.get(i * 8..i * 8 + 8)?)?.to_le_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

fn hex_word(s: &str) -> Option<u32> {
    u32::from_str_radix(s, 16).ok()
}

// ---------------------------------------------------------------- readers

/// At most this many lines of one `/proc/net/tcp{,6}` are read: a box with
/// a million connections (most in `TIME_WAIT`) is still read in about a
/// second, and listeners come first in the kernel's listing anyway.
pub const MAX_TCP_LINES: usize = 1_000_000;

/// The listening sockets of `/proc/net/tcp` or `/proc/net/tcp6` at
/// `path`, read line by line so that a table of many connections is never
/// held in memory; at most [`MAX_TCP_LINES`] lines.
pub fn read_tcp_listeners(path: &Path) -> io::Result<Vec<RawSocket>> {
    use std::io::BufRead;
    let reader = io::BufReader::new(std::fs::File::open(path)?);
    let mut out = Vec::new();
    for line in reader.lines().skip(1).take(MAX_TCP_LINES) {
        if let Some(sock) = parse_tcp_line(&line?).filter(RawSocket::is_listening) {
            out.push(sock);
        }
    }
    Ok(out)
}

/// Whether an error reading `/proc/PID/...` means the process is gone
/// (it exited between listing and reading): skip it, it is not a failure.
pub fn is_vanished(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::NotFound || err.raw_os_error() == Some(libc_esrch())
}

/// `ESRCH`, "no such process", without a libc dependency.
fn libc_esrch() -> i32 {
    rustix::io::Errno::SRCH.raw_os_error()
}

fn pid_path(pid: u32, file: &str) -> PathBuf {
    Path::new(PROC).join(pid.to_string()).join(file)
}

/// The numeric entries of `/proc` (processes, not threads), ascending, at
/// most [`MAX_PIDS`]. The flag is true when the list was cut short.
pub fn list_pids() -> io::Result<(Vec<u32>, bool)> {
    let mut pids = Vec::new();
    let mut truncated = false;
    for entry in std::fs::read_dir(PROC)? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pids.len() >= MAX_PIDS {
            truncated = true;
            break;
        }
        pids.push(pid);
    }
    pids.sort_unstable();
    Ok((pids, truncated))
}

/// Whether `/proc/PID` exists (a process or a thread id).
pub fn pid_exists(pid: u32) -> bool {
    pid != 0 && Path::new(PROC).join(pid.to_string()).exists()
}

/// Read and parse `/proc/PID/stat`.
pub fn read_stat(pid: u32) -> io::Result<Stat> {
    let text = std::fs::read_to_string(pid_path(pid, "stat"))?;
    parse_stat(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/proc/{pid}/stat: unexpected format"),
        )
    })
}

/// Read `/proc/PID/comm`, without the trailing newline.
pub fn read_comm(pid: u32) -> io::Result<String> {
    let text = std::fs::read_to_string(pid_path(pid, "comm"))?;
    Ok(text.trim_end_matches('\n').to_string())
}

/// Read `/proc/PID/cmdline` (at most [`MAX_CMDLINE_BYTES`]) as arguments.
/// Empty for kernel threads and zombies.
pub fn read_cmdline(pid: u32) -> io::Result<Vec<String>> {
    let file = std::fs::File::open(pid_path(pid, "cmdline"))?;
    let mut bytes = Vec::new();
    file.take(MAX_CMDLINE_BYTES).read_to_end(&mut bytes)?;
    Ok(parse_cmdline(&bytes))
}

/// The soft open-file limit from `/proc/PID/limits`; `Ok(None)` when
/// unlimited.
pub fn read_limits_nofile(pid: u32) -> io::Result<Option<u64>> {
    let text = std::fs::read_to_string(pid_path(pid, "limits"))?;
    Ok(parse_limits_nofile(&text))
}

/// The boot time, seconds since the epoch, from `/proc/stat`.
pub fn read_btime() -> io::Result<u64> {
    let text = std::fs::read_to_string(Path::new(PROC).join("stat"))?;
    parse_btime(&text)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "/proc/stat: no btime"))
}

/// Seconds since boot, from `/proc/uptime`.
pub fn read_uptime() -> io::Result<f64> {
    let text = std::fs::read_to_string(Path::new(PROC).join("uptime"))?;
    parse_uptime(&text)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "/proc/uptime: unexpected"))
}

/// Clock ticks per second (`CLK_TCK`), the unit of `starttime`.
pub fn clock_ticks_per_second() -> u64 {
    rustix::param::clock_ticks_per_second().max(1)
}

/// The page size in bytes, the unit of `rss`.
pub fn page_size() -> u64 {
    rustix::param::page_size() as u64
}

/// How many descriptors the process has open, at most
/// [`MAX_FDS_PER_PROCESS`] when counted. Errors with `PermissionDenied`
/// when its fd directory is not ours to read.
pub fn count_fds(pid: u32) -> io::Result<u64> {
    let dir = pid_path(pid, "fd");
    // Since Linux 6.2 the size of /proc/PID/fd is the number of open
    // descriptors: exact and O(1). Older kernels say 0; then count.
    let size = std::fs::metadata(&dir)?.len();
    let listing = std::fs::read_dir(&dir)?;
    if size > 0 {
        return Ok(size);
    }
    Ok(listing.take(MAX_FDS_PER_PROCESS).flatten().count() as u64)
}

/// The inodes of the sockets the process holds (`socket:[N]` links in
/// `/proc/PID/fd`), at most [`MAX_FDS_PER_PROCESS`] descriptors looked at.
pub fn socket_inodes_of(pid: u32) -> io::Result<Vec<u64>> {
    let mut inodes = Vec::new();
    for entry in std::fs::read_dir(pid_path(pid, "fd"))?.take(MAX_FDS_PER_PROCESS) {
        let Ok(entry) = entry else { continue };
        // A descriptor closed between readdir and readlink is not an error.
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if let Some(inode) = target.to_str().and_then(parse_socket_link) {
            inodes.push(inode);
        }
    }
    Ok(inodes)
}

/// `socket:[12345]` → 12345.
pub fn parse_socket_link(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The result of one pass over every process's fd directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketOwners {
    /// Each wanted inode with every pid holding it, pids ascending.
    pub by_inode: HashMap<u64, Vec<u32>>,
    /// Processes whose fd directory was read.
    pub scanned: usize,
    /// Processes whose fd directory could not be read (not ours, not root).
    pub unreadable: usize,
    /// True when `/proc` held more than [`MAX_PIDS`] processes.
    pub truncated: bool,
}

impl SocketOwners {
    /// Whether every process was seen: no unreadable fd directory and no
    /// cut-short scan.
    pub fn complete(&self) -> bool {
        self.unreadable == 0 && !self.truncated
    }
}

/// One pass over `/proc/*/fd` mapping each of `wanted` socket inodes to
/// the pids holding it. Vanished processes are skipped silently.
pub fn socket_owners<S: std::hash::BuildHasher>(
    wanted: &HashSet<u64, S>,
) -> io::Result<SocketOwners> {
    let (pids, truncated) = list_pids()?;
    let mut out = SocketOwners {
        truncated,
        ..SocketOwners::default()
    };
    if wanted.is_empty() {
        return Ok(out);
    }
    for pid in pids {
        match socket_inodes_of(pid) {
            Ok(inodes) => {
                out.scanned += 1;
                let mut seen = HashSet::new();
                for inode in inodes {
                    if wanted.contains(&inode) && seen.insert(inode) {
                        out.by_inode.entry(inode).or_default().push(pid);
                    }
                }
            }
            Err(e) if is_vanished(&e) => {}
            Err(_) => out.unreadable += 1,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT_PARENS: &str = include_str!("../tests/fixtures/proc/stat_comm_with_parens");
    const STAT_ZOMBIE: &str = include_str!("../tests/fixtures/proc/stat_zombie");
    const STAT_KTHREAD: &str = include_str!("../tests/fixtures/proc/stat_kthread");
    const STAT_RUNNING: &str = include_str!("../tests/fixtures/proc/stat_running");
    const LIMITS: &str = include_str!("../tests/fixtures/proc/limits");
    const PROC_STAT: &str = include_str!("../tests/fixtures/proc/stat");
    const UPTIME: &str = include_str!("../tests/fixtures/proc/uptime");
    const NET_TCP: &str = include_str!("../tests/fixtures/proc/net_tcp");
    const NET_TCP6: &str = include_str!("../tests/fixtures/proc/net_tcp6");

    #[test]
    fn stat_comm_with_spaces_and_parens_splits_at_last_paren() {
        let s = parse_stat(STAT_PARENS).unwrap();
        assert_eq!(s.pid, 7825);
        assert_eq!(s.comm, "my (weird) p) x");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 7783);
        assert_eq!(s.num_threads, 1);
        assert_eq!(s.starttime_ticks, 263_333);
        assert_eq!(s.rss_pages, 2790);
        assert!(!s.is_kernel_thread());
        assert!(!s.is_zombie());
    }

    #[test]
    fn stat_of_a_zombie() {
        let s = parse_stat(STAT_ZOMBIE).unwrap();
        assert_eq!((s.pid, s.ppid, s.state), (7824, 7783, 'Z'));
        assert!(s.is_zombie());
        assert_eq!(s.rss_pages, 0);
    }

    #[test]
    fn stat_of_a_kernel_thread() {
        let s = parse_stat(STAT_KTHREAD).unwrap();
        assert_eq!((s.pid, s.comm.as_str(), s.ppid), (2, "kthreadd", 0));
        assert!(s.is_kernel_thread());
    }

    #[test]
    fn stat_of_a_running_process() {
        let s = parse_stat(STAT_RUNNING).unwrap();
        assert_eq!((s.comm.as_str(), s.state), ("cat", 'R'));
        assert_eq!((s.starttime_ticks, s.rss_pages), (269_160, 390));
        assert!(!s.is_kernel_thread());
    }

    #[test]
    fn stat_rejects_garbage() {
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_stat("12 (x"), None);
        assert_eq!(parse_stat("12 (x) S 1 2"), None);
    }

    #[test]
    fn limits_nofile_soft() {
        assert_eq!(parse_limits_nofile(LIMITS), Some(20_000));
        let unlimited = LIMITS.replace(
            "Max open files            20000 ",
            "Max open files            unlimited ",
        );
        assert_ne!(unlimited, LIMITS);
        assert_eq!(parse_limits_nofile(&unlimited), None);
        assert_eq!(parse_limits_nofile(""), None);
    }

    #[test]
    fn btime_and_uptime() {
        assert_eq!(parse_btime(PROC_STAT), Some(1_795_687_783));
        assert_eq!(parse_btime("cpu 1 2 3\n"), None);
        assert_eq!(parse_uptime(UPTIME), Some(2691.61));
        assert_eq!(parse_uptime("x"), None);
    }

    #[test]
    fn cmdline_splits_at_nul_and_drops_the_trailing_one() {
        assert_eq!(
            parse_cmdline(b"sleep\x0031.4159\x00"),
            vec!["sleep".to_string(), "31.4159".to_string()]
        );
        assert_eq!(
            parse_cmdline(b"nginx: worker process"),
            vec!["nginx: worker process"]
        );
        assert!(parse_cmdline(b"").is_empty());
        assert_eq!(parse_cmdline(b"a\x00\x00b\x00"), vec!["a", "", "b"]);
    }

    #[test]
    fn tcp4_listeners_and_established() {
        let socks = parse_proc_net_tcp(NET_TCP);
        assert_eq!(socks.len(), 4);
        let l: Vec<&RawSocket> = socks.iter().filter(|s| s.is_listening()).collect();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].local, "0.0.0.0:2024".parse().unwrap());
        assert_eq!(l[0].inode, 1060);
        assert_eq!(l[1].local, "127.0.0.1:8080".parse().unwrap());
        assert_eq!((l[1].rx_queue, l[1].tx_queue, l[1].uid), (1, 0, 0));
        assert_eq!(l[1].inode, 11679);
        // The ESTABLISHED pair is parsed but is no listener.
        let est = &socks[3];
        assert_eq!(est.state, 0x01);
        assert_eq!(est.local, "127.0.0.1:46058".parse().unwrap());
        assert_eq!(est.remote, "127.0.0.1:8080".parse().unwrap());
    }

    #[test]
    fn tcp6_listeners() {
        let socks = parse_proc_net_tcp(NET_TCP6);
        assert_eq!(socks.len(), 4);
        let l: Vec<&RawSocket> = socks.iter().filter(|s| s.is_listening()).collect();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].local, "[::1]:9000".parse().unwrap());
        assert_eq!(l[1].local, "[::]:8443".parse().unwrap());
        assert_eq!((l[1].inode, l[1].rx_queue), (11680, 1));
    }

    #[test]
    fn tcp6_words_are_little_endian_each() {
        // 2001:db8::1:2 as the kernel prints it.
        let line = "  0: B80D0120000000000000000002000100:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  33        0 42 1 0 100 0 0 10 0";
        let s = parse_proc_net_tcp(&format!("header\n{line}\n"));
        assert_eq!(s[0].local, "[2001:db8::1:2]:80".parse().unwrap());
        assert_eq!((s[0].uid, s[0].inode), (33, 42));
    }

    #[test]
    fn tcp_skips_malformed_lines() {
        assert!(parse_proc_net_tcp("header\n  0: nonsense\n").is_empty());
        assert!(parse_proc_net_tcp("").is_empty());
    }

    #[test]
    fn socket_links() {
        assert_eq!(parse_socket_link("socket:[11679]"), Some(11679));
        assert_eq!(parse_socket_link("pipe:[11679]"), None);
        assert_eq!(parse_socket_link("/dev/null"), None);
    }

    #[test]
    fn readers_on_this_process() {
        let me = std::process::id();
        let (pids, _) = list_pids().unwrap();
        assert!(pids.contains(&me));
        let stat = read_stat(me).unwrap();
        assert_eq!(stat.pid, me);
        assert!(count_fds(me).unwrap() > 0);
        assert!(!read_cmdline(me).unwrap().is_empty());
        assert!(read_btime().unwrap() > 0);
        // A pid that cannot exist: vanished, not a failure.
        let err = read_stat(u32::MAX).unwrap_err();
        assert!(is_vanished(&err), "{err}");
    }
}
