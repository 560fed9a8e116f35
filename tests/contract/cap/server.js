// Serves the contract model like `cds-serve`, but listening on 127.0.0.1 only (CAP binds every
// interface by default): we hand cds.server an express app whose listen() pins the host.
const cds = require('@sap/cds')
const express = require('express')

module.exports = function server (options) {
  const app = express()
  const listen = app.listen.bind(app)
  app.listen = (port, ...rest) => listen(port, '127.0.0.1', ...rest)
  return cds.server({ ...options, app })
}
