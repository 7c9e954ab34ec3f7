/* vm.h - the vm backend: the agent in a KVM microVM (qemu -M microvm) booted from the operator's kernel, bb as the guest's PID 1. */
#ifndef BB_HOST_VM_H
#define BB_HOST_VM_H

/*
 *   host netns             sidecar namespaces               VMM namespaces (the agent side)
 *   bb bottle run ─ dialer ◄─ egress (no route out) ◄─ tap ─ qemu -M microvm, as the agent's uid
 *                              10.231.0.1/24 bb-s0     fd    └ guest kernel, eth0 10.231.0.2/24
 *                                                             └ PID 1: bb init --vm, then --agent
 *
 * The sidecar is the embedded runtime's, unchanged. The agent side is the
 * embedded runtime's agent shim running qemu instead of bb init (host/
 * runtime.h, struct rt_vmm): its user namespace maps the agent's uid, its
 * network namespace is empty, its only link is the tap the runtime made in
 * the sidecar's namespace. The guest's root, workspace and home are 9p
 * exports of qemu's (docs/decisions/0004-vm-backend.md says why qemu's
 * microvm and 9p); the agent's streams and a control line are virtio
 * serial ports; no monitor, no QMP, no other device. docs/runtime.md has
 * the whole story.
 */

#define VM_KERNEL_CACHE "/var/cache/bb/vm-kernel" /* scripts/setup.sh unpacks Debian's linux-image here */
#define VM_RAM_DEFAULT (2LL << 30)               /* the guest's memory when BB_MEMORY_MAX does not say */
#define VM_VMM_OVERHEAD (256LL << 20)            /* the VMM's own memory, on top of the guest's, in its cgroup */
#define VM_GUEST_GRACE_MS 5000ULL                /* in the guest: the agent's SIGTERM to SIGKILL */
#define VM_STOP_GRACE_MS 8000                    /* on the host: a stop to the VMM killed (BB_VM_STOP_GRACE_MS) */

#endif
