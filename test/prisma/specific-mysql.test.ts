import { prismaBackendTests } from './specific.js';

prismaBackendTests('mysql');
