/* agentimage.h - agent_provider.dockerfile: the agent's root built by a Docker Engine (POST /build), imported as an image, rebuilt only when the Dockerfile or its context changes. */
#ifndef BB_HOST_AGENTIMAGE_H
#define BB_HOST_AGENTIMAGE_H

#include <limits.h>
#include <stddef.h>

#include "err.h"
#include "image.h"

#define AI_NAME_PREFIX "df-"                  /* imported images built from a Dockerfile: df-<24 hex> */
#define AI_TAG_PREFIX "bb-agent:"             /* the engine's tag while bb builds and exports it */
#define AI_CONTEXT_MAX_BYTES (2ULL << 30)     /* file bytes sent as the build context */
#define AI_CONTEXT_MAX_ENTRIES 100000u        /* members in it */
#define AI_CONTEXT_MAX_DEPTH 64               /* directory nesting */
#define AI_EXPORT_MAX_BYTES (16ULL << 30)     /* the exported image */

/*
 * The build context of the Dockerfile at path dockerfile: its directory,
 * walked without following any link (a symlink is sent as a symlink),
 * written as a tar whose bytes depend only on names, contents, modes and
 * link targets (sorted, owner 0, mtime 0). The tar goes to out_fd (or
 * nowhere when out_fd < 0); name gets AI_NAME_PREFIX and the first 24 hex
 * digits of its sha256: the same Dockerfile and context give the same name.
 * *size gets the tar's length. Fifos, sockets and devices are left out.
 * 0, or -1 with e set (unreadable context, caps passed).
 */
int agentimage_context(const char *dockerfile, int out_fd, char name[IMG_NAME_MAX + 1], unsigned long long *size,
		       struct bb_err *e);

/*
 * The imported image for the Dockerfile at path dockerfile (absolute):
 * when an image of that context's name is already imported, that one
 * (*built = 0; no engine needed). Otherwise built by the engine at
 * docker_host (a DOCKER_HOST value, NULL for the default socket) with
 * POST /build, exported (GET /images/NAME/get), imported with img_import
 * (the same checks as `bb bottle image import`) and untagged from the
 * engine (*built = 1). note gets progress lines (the build's output).
 * Without an engine, the error names the key and the ways out. 0, or -1.
 */
int agentimage_ensure(const char *dockerfile, const char *docker_host, char name[IMG_NAME_MAX + 1], int *built,
		      img_note_fn note, void *note_arg, struct bb_err *e);

#endif
