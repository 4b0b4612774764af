// Runs dynalite (an in-memory DynamoDB API server) on loopback for Tollgate's tests. It exits when its stdin
// closes, that is when the test process that started it exits, so no server outlives a test run.
const dynalite = require('dynalite')

const port = Number(process.argv[2])
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
server.listen(port, '127.0.0.1', () => console.log(`dynalite listening on ${port}`))
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
