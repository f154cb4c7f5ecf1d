/*
 * The Tables schema model (tables/kb_schema.h) for server code: struct
 * kb_catalog, its tables and functions.  (The name kb_schema belongs to
 * the compiled JSON Schemas of runtime/kb_rt.h; the model's functions
 * keep their kb_schema_* names.)
 */

#ifndef KB_CATALOG_H
#define KB_CATALOG_H

#include "kb_schema.h"

#endif /* !KB_CATALOG_H */
