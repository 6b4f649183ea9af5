import { describe, expect, it } from 'vitest';
import { byTag, operations, schemaTree, search, type OpenAPIDoc } from './openapi';

const errResp = { description: 'Not Found', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };

const doc: OpenAPIDoc = {
  openapi: '3.1.0',
  info: { title: 'T', version: '1' },
  paths: {
    '/api/v1/missions': {
      get: {
        operationId: 'get_missions',
        summary: 'Missions I may see',
        tags: ['missions'],
        'x-access': 'permission',
        'x-permission': 'mission.read',
        parameters: [{ name: 'q', in: 'query' }],
        responses: { '200': { description: 'OK', content: { 'application/json': { schema: { $ref: '#/components/schemas/db.Page-missions.Mission' } } } }, '404': errResp },
      },
      post: {
        operationId: 'post_missions',
        summary: 'Create a mission',
        tags: ['missions'],
        requestBody: { content: { 'application/json': { schema: { type: 'object', properties: { name: { type: 'string' } } } } } },
        responses: { '201': { description: 'Created', content: { 'application/json': { schema: { $ref: '#/components/schemas/missions.Mission' } } } } },
      },
    },
    '/api/v1/health': {
      get: { operationId: 'get_health', summary: 'Liveness', tags: ['system'], security: [], 'x-access': 'public', responses: { '204': { description: 'No content' } } },
    },
  },
  components: {
    schemas: {
      'db.Page-missions.Mission': {
        type: 'object',
        required: ['items', 'total'],
        properties: { items: { type: 'array', items: { $ref: '#/components/schemas/missions.Mission' } }, total: { type: 'integer' } },
      },
      'missions.Mission': {
        type: 'object',
        required: ['id'],
        properties: {
          id: { type: 'string' },
          ends_on: { type: ['string', 'null'], format: 'date' },
          parent: { anyOf: [{ $ref: '#/components/schemas/missions.Mission' }, { type: 'null' }] },
          tags: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
    },
  },
};

describe('openapi', () => {
  it('lists operations with access, parameters and success answers only', () => {
    const ops = operations(doc);
    expect(ops.map((o) => `${o.method} ${o.path}`)).toEqual(['GET /api/v1/health', 'GET /api/v1/missions', 'POST /api/v1/missions']);
    const list = ops[1];
    expect(list.permission).toBe('mission.read');
    expect(list.parameters.map((p) => p.name)).toEqual(['q']);
    expect(list.responses.map((r) => r.status)).toEqual(['200']);
    expect(ops[0].responses[0]).toMatchObject({ status: '204', media: null, schema: null });
    expect(ops[2].request[0].media).toBe('application/json');
  });

  it('groups by tag and searches every word', () => {
    const ops = operations(doc);
    expect(byTag(ops).map((g) => [g.tag, g.ops.length])).toEqual([
      ['missions', 2],
      ['system', 1],
    ]);
    expect(search(ops, 'post MISSIONS').map((o) => o.id)).toEqual(['post_missions']);
    expect(search(ops, 'mission.read').map((o) => o.id)).toEqual(['get_missions']);
    expect(search(ops, '  ')).toHaveLength(3);
    expect(search(ops, 'nothing-like-this')).toHaveLength(0);
  });

  it('resolves refs, nullability, maps and stops at recursion', () => {
    const page = schemaTree(doc, { $ref: '#/components/schemas/db.Page-missions.Mission' });
    expect(page.ref).toBe('db.Page-missions.Mission');
    expect(page.properties.map((p) => [p.name, p.required])).toEqual([
      ['items', true],
      ['total', true],
    ]);
    const items = page.properties[0].node;
    expect(items.type).toBe('array of missions.Mission');
    const mission = items.items!;
    const byName = Object.fromEntries(mission.properties.map((p) => [p.name, p.node]));
    expect(byName.ends_on).toMatchObject({ type: 'string', nullable: true, format: 'date' });
    expect(byName.tags.type).toBe('map of string');
    expect(byName.parent).toMatchObject({ nullable: true, recursive: true, ref: 'missions.Mission' });
  });
});
