/* The model built into the seqattn executable (apps/CMakeLists.txt). */
#ifndef SEQATTN_CLI_DEFAULT_MODEL_H
#define SEQATTN_CLI_DEFAULT_MODEL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The bytes of models/date_model.safetensors as it was at build time, or NULL
 * (and *size 0) when the build had none. */
const unsigned char* seqattn_cli_default_model(size_t* size);

#ifdef __cplusplus
}
#endif

#endif
