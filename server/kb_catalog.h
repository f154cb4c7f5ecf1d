/*
 * tables/kb_schema.h (the Tables schema model) names its model struct
 * kb_schema, as runtime/kb_rt.h already names the compiled JSON Schemas
 * every server file sees.  Until tables/ renames it, server code includes
 * the model through this header, which calls it struct kb_catalog; the
 * functions keep their names (kb_schema_table, kb_schema_free, ...).
 * Only the struct tag changes, so the objects link as they are.
 */

#ifndef KB_CATALOG_H
#define KB_CATALOG_H

#define kb_schema	kb_catalog
#include "kb_schema.h"
#undef kb_schema

#endif /* !KB_CATALOG_H */
