/*
 * kbgen: state shared by the emitters (emit_types.c, emit_api.c).
 */

#ifndef KBC_EMIT_H
#define KBC_EMIT_H

#include "kbc.h"

enum kbc_ctype {
	KBC_CT_JSON = 0,	/* json_t *, borrowed */
	KBC_CT_STRING,		/* const char *, borrowed */
	KBC_CT_INT,		/* int64_t */
	KBC_CT_NUM,		/* double */
	KBC_CT_BOOL,		/* int */
	KBC_CT_STRUCT		/* struct kbg_X * */
};

/* One member of a generated struct (object property or parameter). */
struct kbc_field {
	const char		*key;		/* JSON name */
	const char		*label;		/* C name source, or key */
	const char		*cname;		/* C member */
	const char		*has_name;	/* has_<cname> or NULL */
	const char		*count_name;	/* n_<cname> for arrays */
	enum kbc_ctype		type;
	int			array;
	int			required;	/* decoding fails when absent */
	const struct kb_schema	*st;		/* KBC_CT_STRUCT */
};

struct kbc_struct {
	const struct kb_schema	*schema;
	const char		*cname;		/* kbg_<Name> */
	struct kbc_field	*fields;
	size_t			nfields;
};

struct kbc_emit {
	struct kbc		*kbc;
	struct kbc_api		*api;
	json_t			*typenames;	/* set of used struct names */
	struct kbc_pmap		structs;	/* kb_schema * -> kbc_struct */
	struct kbc_struct	**list;		/* in component order */
	size_t			nlist;
	/* per operation: in-struct fields */
	struct kbc_field	**opfields;
	size_t			*nopfields;
};

int	kbc_emit_types_prepare(struct kbc_emit *);
void	kbc_emit_types_h(struct kbc_emit *, struct kbc_buf *);
void	kbc_emit_types_c(struct kbc_emit *, struct kbc_buf *);
void	kbc_emit_handlers_h(struct kbc_emit *, struct kbc_buf *);
void	kbc_emit_invokers(struct kbc_emit *, struct kbc_buf *);
void	kbc_emit_api_c(struct kbc_emit *, struct kbc_buf *, size_t);
void	kbc_emit_spec_c(struct kbc_emit *, struct kbc_buf *, const char *,
	    size_t);

#endif /* KBC_EMIT_H */
