/**
 * Reading the server's OpenAPI 3.1 document (GET /api/v1/openapi.json) for
 * the API page: operations grouped by tag, a search over them, and schemas
 * with their $refs resolved into a tree the page renders. Pure functions,
 * unit-tested in openapi.test.ts.
 */

export type Schema = { [key: string]: unknown };

export interface Parameter {
  name: string;
  in: 'path' | 'query' | string;
  required?: boolean;
  description?: string;
}

export interface Operation {
  id: string;
  method: string;
  path: string;
  tag: string;
  summary: string;
  description: string;
  access: string;
  permission: string | null;
  sessionOnly: boolean;
  parameters: Parameter[];
  /** Request body: media type → schema. */
  request: { media: string; schema: Schema }[];
  /** Success answers: status → media type and schema (null: no body). */
  responses: { status: string; description: string; media: string | null; schema: Schema | null }[];
  bodyLimit: number | null;
}

export interface OpenAPIDoc {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Schema>>;
  components?: { schemas?: Record<string, Schema> };
}

const METHOD_ORDER = ['get', 'head', 'post', 'put', 'patch', 'delete'];

/** Error statuses shared by every operation: not repeated per route. */
export const SHARED_ERRORS = ['400', '401', '403', '404', '409', '410', '413', '422', '429', '500', '503'];

function contentList(content: unknown): { media: string; schema: Schema }[] {
  if (!content || typeof content !== 'object') return [];
  return Object.entries(content as Record<string, { schema?: Schema }>).map(([media, c]) => ({ media, schema: c.schema ?? {} }));
}

/** Every operation of the document, in path then method order. */
export function operations(doc: OpenAPIDoc): Operation[] {
  const out: Operation[] = [];
  for (const path of Object.keys(doc.paths).sort()) {
    const item = doc.paths[path];
    const methods = Object.keys(item).sort((a, b) => METHOD_ORDER.indexOf(a) - METHOD_ORDER.indexOf(b));
    for (const m of methods) {
      const op = item[m] as Record<string, unknown>;
      const responses = Object.entries((op.responses ?? {}) as Record<string, { description?: string; content?: unknown }>)
        .filter(([st, r]) => !SHARED_ERRORS.includes(st) || !isErrorEnvelope(r.content))
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([status, r]) => {
          const c = contentList(r.content)[0];
          return { status, description: r.description ?? '', media: c?.media ?? null, schema: c?.schema ?? null };
        });
      const body = op.requestBody as { content?: unknown } | undefined;
      out.push({
        id: String(op.operationId ?? `${m} ${path}`),
        method: m.toUpperCase(),
        path,
        tag: ((op.tags as string[] | undefined) ?? ['other'])[0],
        summary: String(op.summary ?? ''),
        description: String(op.description ?? ''),
        access: String(op['x-access'] ?? ''),
        permission: (op['x-permission'] as string | undefined) ?? null,
        sessionOnly: op['x-session-only'] === true,
        parameters: (op.parameters as Parameter[] | undefined) ?? [],
        request: contentList(body?.content),
        responses,
        bodyLimit: typeof op['x-body-limit'] === 'number' ? (op['x-body-limit'] as number) : null,
      });
    }
  }
  return out;
}

function isErrorEnvelope(content: unknown): boolean {
  const c = contentList(content)[0];
  return c?.schema?.$ref === '#/components/schemas/Error';
}

/** Operations grouped by tag, tags in alphabetical order. */
export function byTag(ops: Operation[]): { tag: string; ops: Operation[] }[] {
  const groups = new Map<string, Operation[]>();
  for (const op of ops) {
    if (!groups.has(op.tag)) groups.set(op.tag, []);
    groups.get(op.tag)!.push(op);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([tag, list]) => ({ tag, ops: list }));
}

/**
 * Keeps the operations matching every word of q (case-insensitive) in
 * method, path, summary, tag or permission.
 */
export function search(ops: Operation[], q: string): Operation[] {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return ops;
  return ops.filter((op) => {
    const hay = `${op.method} ${op.path} ${op.summary} ${op.tag} ${op.permission ?? ''}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/** One node of a schema as the page shows it. */
export interface SchemaNode {
  /** e.g. "string", "integer | null", "array of missions.Test", "object". */
  type: string;
  /** The component this node came from, if any. */
  ref: string | null;
  format: string | null;
  description: string | null;
  nullable: boolean;
  /** Object properties (in document order), with required flags. */
  properties: { name: string; required: boolean; node: SchemaNode }[];
  /** Array items or map values. */
  items: SchemaNode | null;
  /** Alternatives (anyOf) other than null. */
  anyOf: SchemaNode[];
  /** A $ref met again below itself: not expanded further. */
  recursive: boolean;
}

function refName(ref: string): string {
  return ref.replace('#/components/schemas/', '');
}

/** Resolves schema into a tree; depth guards deep documents, cycles stop at the repeated $ref. */
export function schemaTree(doc: OpenAPIDoc, schema: Schema, seen: string[] = [], depth = 0): SchemaNode {
  const node: SchemaNode = {
    type: '',
    ref: null,
    format: null,
    description: (schema.description as string | undefined) ?? null,
    nullable: false,
    properties: [],
    items: null,
    anyOf: [],
    recursive: false,
  };
  if (typeof schema.$ref === 'string') {
    const name = refName(schema.$ref);
    const target = doc.components?.schemas?.[name];
    if (!target || seen.includes(name) || depth > 12) {
      return { ...node, type: name, ref: name, recursive: true };
    }
    const inner = schemaTree(doc, target, [...seen, name], depth + 1);
    return { ...inner, ref: name };
  }
  if (Array.isArray(schema.anyOf)) {
    const alts = (schema.anyOf as Schema[]).filter((s) => s.type !== 'null');
    const nullable = alts.length < (schema.anyOf as Schema[]).length;
    if (alts.length === 1) {
      const inner = schemaTree(doc, alts[0], seen, depth + 1);
      return { ...inner, nullable: true, type: inner.type };
    }
    node.anyOf = alts.map((s) => schemaTree(doc, s, seen, depth + 1));
    node.type = node.anyOf.map((n) => n.type).join(' | ');
    node.nullable = nullable;
    return node;
  }
  const types = Array.isArray(schema.type) ? (schema.type as string[]) : schema.type ? [schema.type as string] : [];
  node.nullable = types.includes('null');
  const main = types.filter((t) => t !== 'null');
  node.format = (schema.format as string | undefined) ?? (schema.contentMediaType as string | undefined) ?? null;
  if (main.includes('array') && schema.items) {
    node.items = schemaTree(doc, schema.items as Schema, seen, depth + 1);
    node.type = `array of ${node.items.ref ?? node.items.type}`;
  } else if (main.includes('object')) {
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    const required = new Set((schema.required as string[] | undefined) ?? []);
    node.properties = Object.keys(props)
      .sort()
      .map((name) => ({ name, required: required.has(name), node: schemaTree(doc, props[name], seen, depth + 1) }));
    const ap = schema.additionalProperties;
    if (ap && typeof ap === 'object') {
      node.items = schemaTree(doc, ap as Schema, seen, depth + 1);
      node.type = `map of ${node.items.ref ?? node.items.type}`;
    } else {
      node.type = 'object';
    }
  } else {
    node.type = main.length ? main.join(' | ') : 'any';
  }
  return node;
}

/** "GET" → a CSS class suffix for the method badge. */
export function methodClass(m: string): string {
  return m.toLowerCase();
}
