// mcp_client.cjs - drives `bb supervise` with the official MCP TypeScript SDK; prints "ok - NAME" / "not ok - NAME: why".
// Env: SDK (the @modelcontextprotocol/sdk directory), BB (the bb binary), URL (supervise), TIMEOUT (its response
// timeout in seconds), QUEUE (its queue directory), POLICY (its plan file).
'use strict';
const path = require('path');
const fs = require('fs');
const { execFile } = require('child_process');
const { Client } = require(path.join(process.env.SDK, 'dist/cjs/client/index.js'));
const { StreamableHTTPClientTransport } = require(path.join(process.env.SDK, 'dist/cjs/client/streamableHttp.js'));
const { LATEST_PROTOCOL_VERSION } = require(path.join(process.env.SDK, 'dist/cjs/types.js'));

const BB = process.env.BB, QUEUE = process.env.QUEUE, POLICY = process.env.POLICY, TIMEOUT = Number(process.env.TIMEOUT);
let failures = 0;
const ok = (name) => console.log(`ok - ${name}`);
const fail = (name, why) => { failures++; console.log(`not ok - ${name}: ${String(why).replace(/\n/g, ' ')}`); };
async function check(name, fn) {
	try { await fn(); ok(name); } catch (e) { fail(name, e && e.stack ? e.stack.split('\n').slice(0, 2).join(' ') : e); }
}
function assert(cond, why) { if (!cond) throw new Error(why); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function bb(...args) {
	return new Promise((resolve, reject) => {
		execFile(BB, args, { timeout: 10000 }, (err, stdout, stderr) => {
			if (err) reject(new Error(`bb ${args.join(' ')}: ${err.message} ${stderr}`));
			else resolve(stdout);
		});
	});
}
async function connect(url, name) {
	const client = new Client({ name, version: '1.0.0' });
	const transport = new StreamableHTTPClientTransport(new URL(url));
	await client.connect(transport);
	return { client, transport };
}
const text = (r) => (r.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');

// Wait for the pending proposal whose request matches pred, then decide it with the CLI.
async function decideWhenQueued(pred, verb, note) {
	for (let i = 0; i < 200; i++) {
		const list = JSON.parse(await bb('bottle', 'proposals', '--dir', QUEUE, '--json'));
		const p = list.find((d) => d.status === 'pending' && pred(d));
		if (p) {
			await bb('bottle', verb, p.id, '--dir', QUEUE, '--note', note);
			return p.id;
		}
		await sleep(50);
	}
	throw new Error('the proposal never appeared in the queue');
}

// A call that waits while the operator (this test, through `bb bottle approve|reject`) decides.
async function callDecided(client, tool, args, pred, verb, note) {
	const call = client.callTool({ name: tool, arguments: args }, undefined, { timeout: 30000 });
	const [res, id] = await Promise.all([call, decideWhenQueued((d) => d.tool === tool && pred(d), verb, note)]);
	return { res, id };
}

async function main() {
	let a;
	await check('sdk_initialize', async () => {
		a = await connect(process.env.URL, 'bb-test');
		const v = a.client.getServerVersion();
		assert(v && v.name === 'bb-supervise', `serverInfo ${JSON.stringify(v)}`);
		assert(a.transport.sessionId && /^[0-9a-f]{32}$/.test(a.transport.sessionId), `session id ${a.transport.sessionId}`);
		assert(a.transport.protocolVersion === LATEST_PROTOCOL_VERSION,
			`negotiated ${a.transport.protocolVersion}, the SDK asked ${LATEST_PROTOCOL_VERSION}`);
		assert(/proposal-status/.test(a.client.getInstructions() || ''), 'instructions');
	});
	if (!a) return;
	await check('sdk_ping', async () => { await a.client.ping(); });
	await check('sdk_tools_list', async () => {
		const r = await a.client.listTools();
		const names = r.tools.map((t) => t.name).sort().join(',');
		assert(names === 'ask-operator,capability-block,cred-block,dlp-block,egress-block,list-egress-routes,proposal-status', names);
		for (const t of r.tools) assert(t.inputSchema && t.inputSchema.type === 'object' && t.description, `${t.name} schema`);
	});
	await check('sdk_list_egress_routes', async () => {
		const r = await a.client.callTool({ name: 'list-egress-routes', arguments: {} });
		assert(!r.isError, text(r));
		assert(/api\.example\.com/.test(text(r)), text(r));
		const hosts = r.structuredContent.routes.map((x) => x.host);
		assert(hosts.includes('api.example.com'), JSON.stringify(hosts));
		assert(!JSON.stringify(r).includes('BB_EGRESS_TOKEN'), 'a token slot leaked into the answer');
	});

	// The pending path: nobody decides within the server's timeout.
	let pendingId;
	await check('sdk_pending_after_timeout', async () => {
		const t0 = Date.now();
		const r = await a.client.callTool({ name: 'egress-block', arguments: { host: 'slow.example.org', reason: 'pending test' } });
		const ms = Date.now() - t0;
		assert(!r.isError, `isError: ${text(r)}`);
		assert(/^status: pending$/m.test(text(r)), text(r));
		assert(r.structuredContent.status === 'pending', JSON.stringify(r.structuredContent));
		pendingId = r.structuredContent.id;
		assert(/^[0-9a-f]{24}$/.test(pendingId), `id ${pendingId}`);
		assert(ms >= TIMEOUT * 1000 - 100 && ms < TIMEOUT * 1000 + 3000, `answered after ${ms} ms, want about ${TIMEOUT * 1000}`);
		assert(new RegExp(`timed out after ${TIMEOUT}s`).test(text(r)), text(r));
		assert(fs.existsSync(path.join(QUEUE, `${pendingId}.json`)), 'the proposal is not in the queue');
	});
	await check('sdk_proposal_status_pending', async () => {
		const r = await a.client.callTool({ name: 'proposal-status', arguments: { id: pendingId } });
		assert(!r.isError && r.structuredContent.status === 'pending', text(r));
	});
	await check('sdk_proposal_status_waits', async () => {
		// proposal-status with wait_seconds is answered by the decision, not by the clock.
		const waiting = a.client.callTool({ name: 'proposal-status', arguments: { id: pendingId, wait_seconds: 60 } });
		await sleep(300);
		const t0 = Date.now();
		await bb('bottle', 'reject', pendingId, '--dir', QUEUE, '--note', 'not today');
		const r = await waiting;
		assert(r.structuredContent.status === 'rejected' && r.structuredContent.notes === 'not today', text(r));
		assert(Date.now() - t0 < 3000, 'the wait did not end with the decision');
		const again = await a.client.callTool({ name: 'proposal-status', arguments: { id: pendingId } });
		assert(again.structuredContent.status === 'rejected', text(again));
	});

	// Approval while the call waits: the route is merged and the answer says so.
	await check('sdk_egress_block_approved_while_waiting', async () => {
		const { res } = await callDecided(a.client, 'egress-block',
			{ host: 'API.GitHub.com', methods: ['get', 'HEAD'], paths: ['/repos/org/'], reason: 'clone metadata' },
			(d) => d.request.host === 'api.github.com', 'approve', 'go ahead');
		assert(!res.isError, text(res));
		assert(/^status: approved$/m.test(text(res)) && /^notes: go ahead$/m.test(text(res)), text(res));
		assert(res.structuredContent.applied && res.structuredContent.applied.result === 'ok', JSON.stringify(res.structuredContent));
		const plan = JSON.parse(fs.readFileSync(POLICY, 'utf8'));
		const route = plan.egress.routes.find((x) => x.host === 'api.github.com');
		assert(route && route.origin === 'supervise', 'the route is not in the policy');
		assert(JSON.stringify(route.matches) === '[{"paths":[{"type":"prefix","value":"/repos/org/"}],"methods":["GET","HEAD"]}]',
			JSON.stringify(route.matches));
		assert(plan.dns.allow.includes('api.github.com'), 'dns.allow');
		const r2 = await a.client.callTool({ name: 'list-egress-routes', arguments: {} });
		assert(r2.structuredContent.routes.some((x) => x.host === 'api.github.com'), 'list-egress-routes does not show it');
	});
	await check('sdk_egress_block_rejected', async () => {
		const before = fs.readFileSync(POLICY, 'utf8');
		const { res } = await callDecided(a.client, 'egress-block', { host: 'evil.example.net', reason: 'exfil' },
			(d) => d.request.host === 'evil.example.net', 'reject', 'no');
		assert(!res.isError && res.structuredContent.status === 'rejected' && res.structuredContent.notes === 'no', text(res));
		assert(fs.readFileSync(POLICY, 'utf8') === before, 'a rejected route changed the policy');
	});
	await check('sdk_egress_block_widens', async () => {
		const { res } = await callDecided(a.client, 'egress-block', { host: 'api.example.com', paths: ['/v2/'], reason: 'v2 API' },
			(d) => d.request.host === 'api.example.com', 'approve', '');
		assert(res.structuredContent.applied.result === 'ok', JSON.stringify(res.structuredContent));
		const route = JSON.parse(fs.readFileSync(POLICY, 'utf8')).egress.routes.find((x) => x.host === 'api.example.com');
		assert(JSON.stringify(route.path_allowlist) === '["/v1/","/v2/"]', JSON.stringify(route.path_allowlist));
		assert(route.auth && route.auth.scheme === 'Bearer', 'the credential of the widened route was lost');
	});
	// Approvals that need a bottle (a credential's value goes to its host process, a capability to its next resume)
	// are refused for a queue that is no bottle's, and the proposal stays pending until rejected.
	async function refusedThenRejected(tool, args, pred, approveArgs, why) {
		const call = client().callTool({ name: tool, arguments: args }, undefined, { timeout: 30000 });
		let id;
		for (let i = 0; i < 200 && !id; i++) {
			const p = JSON.parse(await bb('bottle', 'proposals', '--dir', QUEUE, '--json')).find((d) => d.status === 'pending' && d.tool === tool && pred(d));
			if (p) id = p.id; else await sleep(50);
		}
		assert(id, 'the proposal never appeared in the queue');
		for (const [extra, re] of approveArgs) {
			let err;
			try { await bb('bottle', 'approve', id, '--dir', QUEUE, ...extra); } catch (e) { err = e; }
			assert(err && re.test(err.message), `approve ${extra.join(' ')} was not refused with ${re}: ${err && err.message}`);
		}
		await bb('bottle', 'reject', id, '--dir', QUEUE, '--note', why);
		return call;
	}
	const client = () => a.client;
	await check('sdk_cred_block', async () => {
		const before = fs.readFileSync(POLICY, 'utf8');
		const res = await refusedThenRejected('cred-block', { host: 'api.example.com', reason: '401 from the API' },
			(d) => d.request.scheme === 'Bearer',
			[[[], /approve it with --token-env NAME/], [['--token-env', 'PATH'], /not the queue of a bottle this bb runs/]],
			'not here');
		assert(res.structuredContent.status === 'rejected' && res.structuredContent.notes === 'not here', text(res));
		assert(fs.readFileSync(POLICY, 'utf8') === before, 'a refused credential changed the policy');
	});
	await check('sdk_dlp_block', async () => {
		const { res } = await callDecided(a.client, 'dlp-block',
			{ host: 'api.example.com', rule: 'generic-api-key', direction: 'outbound', reason: 'a test fixture, not a key' },
			(d) => d.request.rule === 'generic-api-key', 'approve', 'fine');
		assert(res.structuredContent.status === 'approved' && res.structuredContent.applied.result === 'ok', text(res));
		assert(/rule generic-api-key allowed outbound on route api\.example\.com only/.test(text(res)), text(res));
		const route = JSON.parse(fs.readFileSync(POLICY, 'utf8')).egress.routes.find((x) => x.host === 'api.example.com');
		assert(JSON.stringify(route.dlp.outbound_allow) === '["generic-api-key"]', JSON.stringify(route.dlp));
	});
	await check('sdk_dlp_block_unknown_rule', async () => {
		const res = await refusedThenRejected('dlp-block', { host: 'api.example.com', rule: 'no-such-rule', reason: 'r' },
			(d) => d.request.rule === 'no-such-rule', [[[], /not one of egress's credential rules/]], 'no such rule');
		assert(res.structuredContent.status === 'rejected', text(res));
	});
	await check('sdk_capability_block', async () => {
		const res = await refusedThenRejected('capability-block', { capability: 'install ripgrep', reason: 'search' },
			(d) => d.request.capability === 'install ripgrep',
			[[[], /approve it with what changes at the next resume/], [['--mount', '/usr'], /not the queue of a bottle this bb runs/]],
			'not in this bottle');
		assert(res.structuredContent.status === 'rejected', text(res));
	});
	await check('sdk_ask_operator', async () => {
		const { res } = await callDecided(a.client, 'ask-operator', { question: 'Which branch?' },
			(d) => d.request.question === 'Which branch?', 'approve', 'use main');
		assert(res.structuredContent.notes === 'use main', text(res));
	});
	await check('sdk_concurrent_waits', async () => {
		// Two calls wait at once on one event loop; deciding the second first answers it first.
		const c1 = a.client.callTool({ name: 'ask-operator', arguments: { question: 'first?' } }, undefined, { timeout: 30000 });
		const c2 = a.client.callTool({ name: 'ask-operator', arguments: { question: 'second?' } }, undefined, { timeout: 30000 });
		let done1 = false;
		c1.then(() => { done1 = true; });
		await decideWhenQueued((d) => d.request.question === 'second?', 'approve', 'two');
		const r2 = await c2;
		assert(r2.structuredContent.notes === 'two' && !done1, 'the second call was not answered on its own');
		await decideWhenQueued((d) => d.request.question === 'first?', 'approve', 'one');
		assert((await c1).structuredContent.notes === 'one', 'first');
	});

	// Bad requests through the SDK.
	await check('sdk_unknown_tool', async () => {
		let err;
		try { await a.client.callTool({ name: 'rm-rf', arguments: {} }); } catch (e) { err = e; }
		assert(err && err.code === -32602, `want McpError -32602, got ${err && err.code} ${err && err.message}`);
	});
	await check('sdk_bad_arguments', async () => {
		const cases = [
			[{ host: 'https://api.github.com/x', reason: 'r' }, /not a DNS name/],
			[{ host: '169.254.169.254', reason: 'r' }, /IP address/],
			[{ host: 'a.example.com' }, /reason is required/],
			[{ host: 'a.example.com', reason: 'r', paths: ['/a/../b'] }, /path prefix/],
			[{ host: 'a.example.com', reason: 'r', methods: ['GE T'] }, /not an HTTP method/],
			[{ host: 'a.example.com', reason: 'r', extra: 1 }, /unknown argument 'extra'/],
		];
		for (const [args, re] of cases) {
			const r = await a.client.callTool({ name: 'egress-block', arguments: args });
			assert(r.isError && re.test(text(r)), `${JSON.stringify(args)} -> ${text(r)}`);
		}
		const r = await a.client.callTool({ name: 'proposal-status', arguments: { id: '../etc/passwd' } });
		assert(r.isError, text(r));
	});
	await check('sdk_unknown_method', async () => {
		let err;
		try { await a.client.request({ method: 'resources/list', params: {} }, require(path.join(process.env.SDK, 'dist/cjs/types.js')).ListResourcesResultSchema); } catch (e) { err = e; }
		assert(err && err.code === -32601, `want -32601, got ${err && err.code}`);
	});
	await check('sdk_cancel', async () => {
		const ac = new AbortController();
		const call = a.client.callTool({ name: 'ask-operator', arguments: { question: 'cancel me' } }, undefined, { signal: ac.signal, timeout: 30000 });
		await sleep(400);
		ac.abort('test');
		let err;
		try { await call; } catch (e) { err = e; }
		assert(err, 'the aborted call resolved');
		// The SDK sends notifications/cancelled without waiting for it: give it time to reach the server
		// before the next steps (and the process exit) can cut it off; the shell then reads the server's log.
		await sleep(1000);
	});
	await check('sdk_terminate_session', async () => {
		const sid = a.transport.sessionId;
		await a.transport.terminateSession();
		const res = await fetch(process.env.URL, {
			method: 'POST',
			headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sid },
			body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
		});
		assert(res.status === 404, `a deleted session answered ${res.status}`);
	});
	await a.client.close().catch(() => {});
}

main().then(() => process.exit(failures ? 1 : 0), (e) => { fail('sdk_client', e && e.stack); process.exit(1); });
