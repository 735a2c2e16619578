//! CPU affinity of the worker threads (through nix).

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// Pins the calling thread to `cpu`.
pub fn pin_to_cpu(cpu: usize) -> std::io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu % CpuSet::count())?;
    // Pid 0 is the calling thread.
    sched_setaffinity(Pid::from_raw(0), &set)?;
    Ok(())
}

/// CPUs this thread may run on (`[0]` if the kernel will not say).
pub fn allowed_cpus() -> Vec<usize> {
    let Ok(set) = sched_getaffinity(Pid::from_raw(0)) else {
        return vec![0];
    };
    (0..CpuSet::count())
        .filter(|&c| set.is_set(c).unwrap_or(false))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_thread_runs_somewhere() {
        let cpus = super::allowed_cpus();
        assert!(!cpus.is_empty());
        std::thread::spawn(move || {
            super::pin_to_cpu(cpus[0]).unwrap();
            assert_eq!(super::allowed_cpus(), vec![cpus[0]]);
        })
        .join()
        .unwrap();
    }
}
