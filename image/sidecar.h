/* sidecar.h - the sidecar image: one file (this binary) in a FROM-scratch docker-archive. */
#ifndef BB_IMAGE_SIDECAR_H
#define BB_IMAGE_SIDECAR_H

#include "err.h"

/*
 * Write the sidecar image as a docker-archive to out_fd: manifest.json
 * (RepoTags ["bb-sidecar:TAG"]; tag NULL means this build's version), the
 * config named by its sha256 (os linux, this build's architecture,
 * Entrypoint ["/bb","init","--sidecar"]), and one layer holding /bb
 * (0755, read from bb_path; NULL means /proc/self/exe), /etc, /tmp (1777)
 * and /run. Timestamps come from SOURCE_DATE_EPOCH (else 0), so the same
 * binary gives the same image ID. Accepted by Docker's POST /images/load
 * and `podman load`. image_id_out (72 bytes, may be NULL) gets
 * "sha256:HEX" of the config. 0 or -1 with e set.
 */
int img_sidecar_archive(const char *bb_path, int out_fd, const char *tag, char *image_id_out, struct bb_err *e);

/* The repo:tag img_sidecar_archive writes for tag (NULL: this build's version) into out (cap bytes). */
int img_sidecar_ref(const char *tag, char *out, size_t cap, struct bb_err *e);

#endif
